// The seed README's third example: behind a proxy, sticky by the client
// address in X-Forwarded-For, with socket.io in each worker.
var sticky = require('sticky-native'),
    io;
var port = Number(process.env.PORT || 3000);

var options = {
  proxy: true, //activate layer 4 patching
  header: 'x-forwarded-for', //provide here your header containing the users ip
  num: 2 //count of processes to create, defaults to maximum if omitted
}

sticky(options, function() {
  // This code will be executed only in slave workers

  var http = require('http');

  var server = http.createServer(function(req, res) {
    res.end('worker: ' + process.env.NODE_WORKER_ID);
  });
  io = require('socket.io')(server);

  return server;
}).listen(port, function() {
  console.log('server started on ' + port + ' port');
  console.log('listening ' + port);
});
