// GET each URL with Node's built-in fetch (undici), as NODE_USE_ENV_PROXY and the environment configure it.
for (const url of process.argv.slice(2)) {
  try {
    await (await fetch(url, { signal: AbortSignal.timeout(10000) })).text()
  } catch (error) {
    console.error(`${url}: ${error.cause?.code ?? error.message}`)
  }
}
