// Starts an in-memory PLC directory and the reference Bluesky PDS on 127.0.0.1,
// for the adapter tests. Ports come from PLC_PORT and PDS_PORT; data lives in
// PDS_DATA_DIRECTORY (a temporary directory the test fixture owns). A test may set
// PDS_JWT_SECRET to mint tokens the PDS accepts (an expired one, say). Prints one
// JSON line {"plc": url, "pds": url} once both servers answer.
'use strict'

const crypto = require('node:crypto')
const { PDS, envToCfg, envToSecrets, readEnv } = require('@atproto/pds')
const plc = require('@did-plc/server')

// Both servers call app.listen(port) without a host, which would bind every
// interface; the tests must only ever listen on loopback.
function loopbackOnly(app) {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, '127.0.0.1', ...rest)
}

async function main() {
  const plcPort = Number(process.env.PLC_PORT)
  const pdsPort = Number(process.env.PDS_PORT)
  const dataDir = process.env.PDS_DATA_DIRECTORY
  if (!plcPort || !pdsPort || !dataDir) {
    throw new Error('PLC_PORT, PDS_PORT and PDS_DATA_DIRECTORY must be set')
  }

  const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: plcPort })
  loopbackOnly(plcServer.app)
  await plcServer.start()

  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  const rotationHex = Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url').toString('hex')
  Object.assign(process.env, {
    PDS_PORT: String(pdsPort),
    PDS_HOSTNAME: 'localhost',
    PDS_DEV_MODE: 'true',
    PDS_DID_PLC_URL: `http://127.0.0.1:${plcPort}`,
    PDS_BLOBSTORE_DISK_LOCATION: `${dataDir}/blobs`,
    PDS_JWT_SECRET: process.env.PDS_JWT_SECRET || crypto.randomBytes(16).toString('hex'),
    PDS_ADMIN_PASSWORD: crypto.randomBytes(16).toString('hex'),
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: rotationHex,
    PDS_INVITE_REQUIRED: 'false',
    PDS_CRAWLERS: '',
  })
  const env = readEnv()
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  loopbackOnly(pds.app)
  await pds.start()

  process.stdout.write(
    JSON.stringify({ plc: `http://127.0.0.1:${plcPort}`, pds: `http://127.0.0.1:${pdsPort}` }) + '\n',
  )

  const stop = async () => {
    await pds.destroy().catch(() => {})
    await plcServer.destroy().catch(() => {})
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  process.stderr.write(`pds start failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
