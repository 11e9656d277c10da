/**
 * Finding peers: a keeper given by peer ID alone is found through kad-dht (a
 * third node knows its address), and a new member's node is reached through the
 * address given with it — neither was connected to the group's owner before.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { initNodeDir, startNode, stopAll, waitFor } from '../helpers/cli.js'

after(stopAll)

test('a keeper added by peer ID only is found through kad-dht and receives the group', async () => {
  const [r, k, a] = [initNodeDir({ keeper: true }), initNodeDir({ keeper: true }), initNodeDir()]
  const R = await startNode(r.dataDir, { keeper: true })
  const K = await startNode(k.dataDir, { keeper: true, bootstrap: [R.listenAddrs[0]!] })
  // A announcing its entity in the DHT would meet K on the way (locate.ts): this test is about finding K by peer ID.
  const A = await startNode(a.dataDir, { bootstrap: [R.listenAddrs[0]!], env: { CAIRN_NETWORK_DHT_ANNOUNCE_ENTITY: 'false' } })
  await waitFor('A connected to R', async () => (await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === R.peerId))
  assert.ok(!(await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === K.peerId), 'A does not know K yet')
  await A.ok('POST', `/api/v1/groups/${a.personalGroupId}/keepers`, { peerId: K.peerId })
  const w = await A.ok('POST', `/api/v1/groups/${a.personalGroupId}/items`, { content: 'found through the DHT' })
  await waitFor('K to hold the group and the item', async () => {
    const raw = await K.api('GET', `/api/v1/groups/${a.personalGroupId}/raw`)
    return raw.status === 200 && raw.json.items.some((i: any) => i.id === w.id)
  }, 30_000)
  assert.ok((await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === K.peerId), 'A connected to K by the address the DHT gave')
})

test('a member added with its node\'s address receives the group and its keys, and reads', async () => {
  const [a, b] = [initNodeDir(), initNodeDir()]
  const A = await startNode(a.dataDir)
  const B = await startNode(b.dataDir)
  const gid = (await A.ok('POST', '/api/v1/groups', { name: 'introduced by address' })).id
  const w = await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'for B, written before B joined' })
  assert.equal((await A.ok('GET', '/api/v1/peers')).peers.length, 0, 'A and B never connected')
  await A.ok('POST', `/api/v1/groups/${gid}/members`, { entityId: b.entityId, role: 'member', multiaddr: B.listenAddrs[0] })
  // The invitation reaches B by that address; B accepts; the group follows.
  const inv = await waitFor('B to receive the invitation', async () => (await B.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === gid), 30_000)
  await B.ok('POST', `/api/v1/invites/${inv.id}/accept`)
  await waitFor('B to hold the group', async () => (await B.api('GET', `/api/v1/groups/${gid}`)).status === 200, 30_000)
  const it = await waitFor('B to read the earlier item', async () => {
    const r = await B.api('GET', `/api/v1/items/${w.id}`)
    return r.status === 200 ? r.json : undefined
  }, 30_000)
  assert.equal(it.content, 'for B, written before B joined')
  assert.equal((await B.ok('GET', `/api/v1/groups/${gid}`)).role, 'member')
})

test('a keeper with an allow-list adopts only groups owned by the listed entities', async () => {
  const [a, b] = [initNodeDir(), initNodeDir()]
  const k = initNodeDir({ keeper: true })
  const K = await startNode(k.dataDir, { keeper: true, env: { CAIRN_KEEPER_ALLOW_ENTITIES: a.entityId! } })
  const A = await startNode(a.dataDir, { bootstrap: [K.listenAddrs[0]!] })
  const B = await startNode(b.dataDir, { bootstrap: [K.listenAddrs[0]!] })
  await A.ok('POST', `/api/v1/groups/${a.personalGroupId}/keepers`, { peerId: K.peerId })
  await B.ok('POST', `/api/v1/groups/${b.personalGroupId}/keepers`, { peerId: K.peerId })
  await waitFor('K to adopt A\'s group', async () => (await K.api('GET', `/api/v1/groups/${a.personalGroupId}/raw`)).status === 200, 30_000)
  await waitFor('K to refuse B\'s delivery', async () => {
    const m = await K.api('GET', '/metrics')
    return /cairn_records_rejected_total\{reason="not-for-us",origin="delivery"\} [1-9]/.test(m.text)
  }, 30_000)
  assert.equal((await K.api('GET', `/api/v1/groups/${b.personalGroupId}/raw`)).status, 404)
})

test('a malformed entity ID in keeper.allow_entities stops the keeper with a clear error', async () => {
  const k = initNodeDir({ keeper: true })
  await assert.rejects(startNode(k.dataDir, { keeper: true, env: { CAIRN_KEEPER_ALLOW_ENTITIES: 'cairn1notanentity' } }), (e: Error) => /allow_entities/.test(e.message))
})
