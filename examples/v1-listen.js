// sticky-session 1.x README example: listen() is false in the primary (which
// binds the port) and true in each worker (whose server gets the connections).
var sticky = require('sticky-native');
var port = Number(process.env.PORT || 3000);

var server = require('http').createServer(function(req, res) {
  res.end('worker: ' + process.env.NODE_WORKER_ID);
});

if (!sticky.listen(server, port)) {
  // Master code
  server.once('listening', function() {
    console.log('server started on ' + port + ' port');
    console.log('listening ' + port);
  });
} else {
  // Worker code
}
