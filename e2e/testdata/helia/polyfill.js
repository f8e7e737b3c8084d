// Helia 7 and libp2p 3 call Promise.withResolvers, which Node 22 has and
// Node 20 lacks. Imported before them, so it is in place when they load.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
