// Runs an ONNX file with ONNX Runtime (npm's onnxruntime-node, installed by scripts/setup) on a
// float32 input read from a raw file, and writes every output as raw float32: the check that a
// model xfer exported runs in a runtime nobody here wrote.
//
//   node onnxruntime.js MODEL.onnx INPUT.bin N,C,H,W OUT_DIR
//
// Prints one line per output (`logits 3,10`) and the model's metadata keys; exits 1 with the
// runtime's message when the model does not load or run.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inputFile, shapeText, outDir] = process.argv.slice(2);
  if (!outDir) throw new Error('usage: node onnxruntime.js MODEL.onnx INPUT.bin N,C,H,W OUT_DIR');
  const shape = shapeText.split(',').map(Number);
  const bytes = fs.readFileSync(inputFile);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1});
  const results = await session.run({input: new ort.Tensor('float32', data, shape)});
  for (const name of session.outputNames) {
    const tensor = results[name];
    const raw = tensor.data;
    fs.writeFileSync(path.join(outDir, name + '.bin'),
                     Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    console.log(name + ' ' + tensor.dims.join(','));
  }
}

main().catch((error) => {
  console.error(String((error && error.stack) || error));
  process.exit(1);
});
