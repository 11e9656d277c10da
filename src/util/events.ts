/** A small typed event bus: subsystems never import each other, node/ wires them. */
import { EventEmitter } from 'node:events'

export class TypedEmitter<E extends Record<string, unknown>> {
  private readonly ee = new EventEmitter()
  constructor () { this.ee.setMaxListeners(100) }
  on<K extends keyof E & string> (event: K, fn: (payload: E[K]) => void): () => void {
    this.ee.on(event, fn as (p: unknown) => void)
    return () => { this.ee.off(event, fn as (p: unknown) => void) }
  }

  emit<K extends keyof E & string> (event: K, payload: E[K]): void {
    // A listener's failure must not undo or block the write that raised the event.
    for (const fn of this.ee.listeners(event)) {
      try { (fn as (p: E[K]) => void)(payload) } catch (e) { this.ee.emit('listener-error', e) }
    }
  }

  onListenerError (fn: (e: unknown) => void): void { this.ee.on('listener-error', fn) }
}
