import * as kiln from './src/index.js';
await kiln.ready();
const x = kiln.randn([4096, 1024]);
const f = kiln.compile((x: kiln.Tensor) => x.softmax(-1));
if (process.env.EAGER) { for (let i = 0; i < 5; i++) kiln.tidy(() => { x.softmax(-1).dataSync?.(); }); }
const ts: number[] = [];
for (let i = 0; i < 60; i++) { const t0 = performance.now(); const y = f(x) as kiln.Tensor; y.dispose(); ts.push(performance.now() - t0); }
const s = ts.slice(10).sort((a, b) => a - b);
console.log(`median ${s[25].toFixed(2)} min ${s[0].toFixed(2)} max ${s[49].toFixed(2)}`);
