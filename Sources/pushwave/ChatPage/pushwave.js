// PushwaveClient: the /ws protocol of a Pushwave server, for browsers.
//
// One WebSocket carries every subscription. The client reconnects by itself (exponential
// backoff with jitter), resubscribes every topic with the position of the last message it
// delivered (`since`), and delivers each topic's messages in offset order, exactly once:
// recovered messages first, then live ones. When the server cannot recover (its history no
// longer reaches back, or the epoch changed), `onReset(topic)` says the application must
// refetch that topic's state.
//
//   var client = new PushwaveClient("wss://example.com/ws", { getToken: fetchToken });
//   client.subscribe("chat", function (data, offset) { ... }, { onReset: reload });
//   client.publish("chat", { text: "hi" });
//
// Protocol: PROTOCOL.md in the server's Sources/Push/Protocol.
(function (global) {
  "use strict";

  var BACKOFF_BASE_MS = 500;
  var BACKOFF_CAP_MS = 10000;

  function PushwaveClient(url, options) {
    options = options || {};
    this.url = url;
    this.getToken = options.getToken || null;   // function () -> Promise<string|null>
    this.onState = options.onState || function () {};
    this.topics = {};      // topic -> { onMessage, onReset, offset, epoch, subscribed }
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.closed = false;
    this.nextId = 1;
    this.connect();
  }

  PushwaveClient.prototype.state = function (state, detail) {
    this.onState(state, detail);
  };

  PushwaveClient.prototype.connect = function () {
    var self = this;
    if (self.closed) return;
    self.clearRetry();
    self.state("connecting");
    var tokenPromise = self.getToken ? Promise.resolve(self.getToken()) : Promise.resolve(null);
    tokenPromise.then(function (token) {
      if (self.closed) return;
      var url = self.url;
      if (token) url += (url.indexOf("?") === -1 ? "?" : "&") + "token=" + encodeURIComponent(token);
      var ws;
      try { ws = new WebSocket(url); } catch (e) { self.scheduleReconnect(); return; }
      self.socket = ws;
      ws.onopen = function () {
        if (self.socket !== ws) return;
        self.attempt = 0;
        self.state("open", { extensions: ws.extensions });
        Object.keys(self.topics).forEach(function (topic) { self.sendSubscribe(topic); });
      };
      ws.onmessage = function (event) {
        if (self.socket !== ws || typeof event.data !== "string") return;
        var frame;
        try { frame = JSON.parse(event.data); } catch (e) { return; }
        self.handle(frame);
      };
      ws.onclose = function (event) {
        if (self.socket !== ws) return;
        self.socket = null;
        Object.keys(self.topics).forEach(function (topic) { self.topics[topic].subscribed = false; });
        self.scheduleReconnect(event.code);
      };
      ws.onerror = function () { /* a close event always follows */ };
    }, function () { self.scheduleReconnect(); });
  };

  PushwaveClient.prototype.handle = function (frame) {
    if (frame === null || typeof frame !== "object") return;
    var entry = this.topics[frame.topic];
    if (frame.op === "message" && entry) {
      // Exactly once, in order: an offset at or below the last delivered one is a repeat.
      if (typeof frame.offset !== "number" || frame.offset <= entry.offset) return;
      entry.offset = frame.offset;
      entry.onMessage(frame.data, frame.offset);
    } else if (frame.op === "subscribed" && entry) {
      var reset = !frame.recovered && entry.epoch !== null;
      entry.subscribed = true;
      entry.epoch = frame.epoch;
      if (!frame.recovered) entry.offset = frame.offset;
      if (reset && entry.onReset) entry.onReset(frame.topic);
    } else if (frame.op === "error" && this.onError) {
      this.onError(frame);
    }
  };

  PushwaveClient.prototype.sendSubscribe = function (topic) {
    var entry = this.topics[topic];
    var command = { op: "subscribe", topic: topic };
    if (entry.epoch !== null) command.since = { offset: entry.offset, epoch: entry.epoch };
    this.send(command);
  };

  PushwaveClient.prototype.send = function (command) {
    if (this.socket === null || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(command));
    return true;
  };

  // Subscribes to `topic`: `onMessage(data, offset)` for each message; `options.onReset`
  // when messages were missed and could not be recovered.
  PushwaveClient.prototype.subscribe = function (topic, onMessage, options) {
    this.topics[topic] = {
      onMessage: onMessage, onReset: (options || {}).onReset || null,
      offset: 0, epoch: null, subscribed: false
    };
    this.sendSubscribe(topic);
  };

  PushwaveClient.prototype.unsubscribe = function (topic) {
    delete this.topics[topic];
    this.send({ op: "unsubscribe", topic: topic });
  };

  // Publishes `data` (any JSON value) to `topic`; false when not connected.
  PushwaveClient.prototype.publish = function (topic, data) {
    return this.send({ op: "publish", topic: topic, data: data, id: this.nextId++ });
  };

  PushwaveClient.prototype.isOpen = function () {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  };

  PushwaveClient.prototype.clearRetry = function () {
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null; }
  };

  // Exponential backoff with jitter: a random delay between half and all of
  // min(cap, base * 2^attempt).
  PushwaveClient.prototype.scheduleReconnect = function (code) {
    var self = this;
    if (self.closed) return;
    self.clearRetry();
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, self.attempt));
    self.attempt = Math.min(self.attempt + 1, 16);
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    self.state("reconnecting", { retryAt: Date.now() + delay, code: code });
    self.retryTimer = setTimeout(function () { self.connect(); }, delay);
  };

  // Reconnects at once if waiting to.
  PushwaveClient.prototype.reconnectNow = function () {
    if (this.socket === null && !this.closed) this.connect();
  };

  PushwaveClient.prototype.close = function () {
    this.closed = true;
    this.clearRetry();
    if (this.socket) this.socket.close(1000);
  };

  global.PushwaveClient = PushwaveClient;
})(typeof window !== "undefined" ? window : this);
