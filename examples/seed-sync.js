// The seed README's fourth example ("Socket.io, synchronized"): each
// connection's data is held until the application emits the sync event on
// that connection's socket.
//
// Changed from the README, which cannot run as printed: its
// `io.on('connection', ...)` sits at the top level, where `io` is undefined in
// the primary, and a socket.io connection needs the held data to arrive first.
// The event is emitted on the net socket, in the worker, which is what the
// seed's code listens for.
var sticky = require('sticky-native'),
    io;
var port = Number(process.env.PORT || 3000);

var options = {
  proxy: true, //activate layer 4 patching
  header: 'x-forwarded-for', //provide here your header containing the users ip
  num: 2, //count of processes to create, defaults to maximum if omitted
  sync: {
    isSynced: true, //activate synchronization
    event: 'mySyncEventCall' //name of the event you're going to call
  }
}

var server = sticky(options, function() {
  // This code will be executed only in slave workers

  var http = require('http');

  var server = http.createServer(function(req, res) {
    res.end('worker: ' + process.env.NODE_WORKER_ID);
  });
  io = require('socket.io')(server);

  server.on('connection', function(socket) {
    // ... awesome stuff

    socket.emit('mySyncEventCall');
  });

  return server;
}).listen(port, function() {
  console.log('server started on ' + port + ' port');
  console.log('listening ' + port);
});
