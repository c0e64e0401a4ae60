// The delivery-report URL for Kannel in vs-kannel.sh: answers every request 200 and counts
// them. usage: node vs-kannel-dlr.js PORT; prints {"dlr_callbacks": N} every second and on
// SIGTERM.
'use strict';
const http = require('http');
let n = 0;
const server = http.createServer((req, res) => { n++; res.end('ok'); });
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log(`listening ${process.argv[2]}`));
const report = () => console.log(JSON.stringify({ dlr_callbacks: n }));
setInterval(report, 1000).unref();
process.on('SIGTERM', () => { report(); process.exit(0); });
