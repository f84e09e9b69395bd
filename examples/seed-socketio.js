// The seed README's second example ("Socket.io"): a factory that runs only in
// the workers and attaches socket.io to its server.
var sticky = require('sticky-native');
var port = Number(process.env.PORT || 3000);

sticky(function() {
  // This code will be executed only in slave workers

  var http = require('http'),
      io = require('socket.io');

  var server = http.createServer(function(req, res) {
    res.end('worker: ' + process.env.NODE_WORKER_ID);
  });
  // socket.io 4 has no listen() export; calling the module attaches it.
  io(server);

  return server;
}).listen(port, function() {
  console.log('server started on ' + port + ' port');
  console.log('listening ' + port);
});
