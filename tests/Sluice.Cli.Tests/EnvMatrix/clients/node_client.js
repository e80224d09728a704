// GET the URLs before "--" with Node's built-in fetch (undici), as NODE_USE_ENV_PROXY and the environment configure
// it, then those after it through npm's own network stack: npm's config loaded as the npm CLI loads it (~/.npmrc,
// environment), then npm-registry-fetch with npm's flat options, as `npm view` fetches a packument. One Node start
// per case for both columns; the listeners record where each request went.
const { realpathSync } = require('node:fs')
const { dirname, join } = require('node:path')
const { execFileSync } = require('node:child_process')

const args = process.argv.slice(2)
const split = args.indexOf('--')
const fetchUrls = args.slice(0, split)
const npmUrls = args.slice(split + 1)
process.argv = process.argv.slice(0, 2) // npm parses argv: give it none of ours

const main = async () => {
  for (const url of fetchUrls) {
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(10000) })).text()
    } catch (error) {
      console.error(`fetch ${url}: ${error.cause?.code ?? error.message}`)
    }
  }

  const npmRoot = dirname(dirname(realpathSync(execFileSync('sh', ['-c', 'command -v npm']).toString().trim())))
  const Npm = require(join(npmRoot, 'lib', 'npm.js'))
  const npmFetch = require(join(npmRoot, 'node_modules', 'npm-registry-fetch'))
  const npm = new Npm()
  await npm.load()
  for (const url of npmUrls) {
    try {
      await (await npmFetch(url, { ...npm.flatOptions, retry: { retries: 0 }, timeout: 10000, preferOnline: true })).text()
    } catch (error) {
      console.error(`npm ${url}: ${error.code ?? error.message}`)
    }
  }
}
main()
