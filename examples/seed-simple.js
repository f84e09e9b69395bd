// The seed README's first example ("Simple"): a plain server, sticky by client IP.
var sticky = require('sticky-native');
var port = Number(process.env.PORT || 3000);

sticky(require('http').createServer(function(req, res) {
  res.end('worker: ' + process.env.NODE_WORKER_ID);
})).listen(port, function() {
  console.log('server started on ' + port + ' port');
  console.log('listening ' + port);
});
