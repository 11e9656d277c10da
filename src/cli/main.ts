/** `cairn`: the command line. Verbs other than init/start/recover/demo talk to the daemon over the local API. */
import { Command, CommanderError } from 'commander'
import { VERSION } from '../node/version.js'
import { demoCommand } from './commands/demo-command.js'
import { groupCommands } from './commands/group-commands.js'
import { itemCommands } from './commands/item-commands.js'
import { nodeCommands } from './commands/node-commands.js'
import { circleCommands } from './commands/circle-commands.js'
import { portabilityCommands } from './commands/portability-commands.js'
import { mcpCommand } from './commands/mcp-command.js'

export function buildProgram (): Command {
  const program = new Command()
  program.name('cairn')
    .description('peer-to-peer encrypted memory: keepers that cannot read, circles no one holds alone')
    .version(VERSION)
    .option('-d, --data-dir <dir>', 'node data directory (env CAIRN_DATA_DIR, default ~/.cairn)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  nodeCommands(program)
  groupCommands(program)
  itemCommands(program)
  circleCommands(program)
  portabilityCommands(program)
  demoCommand(program)
  mcpCommand(program)
  return program
}

export async function main (argv: string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2
      return
    }
    throw e
  }
}
