// `wxFetch`: the FetchLike the chat client's backend mode needs, on wx.request
// (mini-programs have no fetch). Only what the client uses: status and text().
'use strict';

function wxFetch(url, init) {
  init = init || {};
  return new Promise(function (resolve, reject) {
    var request = {
      url: url,
      method: init.method || 'GET',
      header: init.headers || {},
      dataType: 'text', // anything but "json": wx must not JSON.parse the body itself
      responseType: 'text',
      success: function (res) {
        var body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
        resolve({
          status: res.statusCode,
          ok: res.statusCode >= 200 && res.statusCode < 300,
          text: function () { return Promise.resolve(body); },
        });
      },
      // Like fetch: a network failure rejects with a TypeError, an HTTP error status does not.
      fail: function (res) {
        reject(new TypeError('wx.request failed: ' + ((res && res.errMsg) || 'unknown error')));
      },
    };
    if (init.body !== undefined && init.body !== null) request.data = init.body;
    wx.request(request);
  });
}

module.exports = { wxFetch: wxFetch };
