// The backbone throughput of an ONNX file xfer exported, in ONNX Runtime (npm's onnxruntime-node,
// installed by scripts/setup into .cache/node), as one JSON line like bench_inference's:
//   NODE_PATH=.cache/node/node_modules node bench/inference_onnxruntime.js FILE SIZE BATCH ITERATIONS THREADS
// Only the `features` output is fetched, so the head is not computed (as bench_inference times
// model->features). One warm-up run, then ITERATIONS timed runs on the same random batch.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [file, size, batch, iterations, threads] = process.argv.slice(2);
  if (!threads) throw new Error('usage: inference_onnxruntime.js FILE SIZE BATCH ITERATIONS THREADS');
  const n = Number(batch);
  const s = Number(size);
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const data = new Float32Array(n * 3 * s * s);
  for (let i = 0; i < data.length; ++i) data[i] = Math.random() * 2 - 1;
  const feeds = {input: new ort.Tensor('float32', data, [n, 3, s, s])};
  await session.run(feeds, ['features']);  // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < Number(iterations); ++i) await session.run(feeds, ['features']);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({side: 'onnxruntime', file, size: s, threads: Number(threads),
                              images_per_s: (n * Number(iterations)) / seconds}));
}

main().catch((error) => {
  console.error(String((error && error.stack) || error));
  process.exit(1);
});
