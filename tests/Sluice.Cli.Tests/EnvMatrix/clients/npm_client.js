// GET each URL through npm's own network stack: npm's config loaded as the npm CLI loads it (~/.npmrc, environment),
// then npm-registry-fetch with npm's flat options, as `npm view` fetches a packument.
const { realpathSync } = require('node:fs')
const { dirname, join } = require('node:path')
const { execFileSync } = require('node:child_process')

const npmRoot = dirname(dirname(realpathSync(execFileSync('sh', ['-c', 'command -v npm']).toString().trim())))
const Npm = require(join(npmRoot, 'lib', 'npm.js'))
const fetch = require(join(npmRoot, 'node_modules', 'npm-registry-fetch'))

const urls = process.argv.slice(2)
process.argv = process.argv.slice(0, 2)
const main = async () => {
  const npm = new Npm()
  await npm.load()
  for (const url of urls) {
    try {
      await (await fetch(url, { ...npm.flatOptions, retry: { retries: 0 }, timeout: 10000, preferOnline: true })).text()
    } catch (error) {
      console.error(`${url}: ${error.code ?? error.message}`)
    }
  }
}
main()
