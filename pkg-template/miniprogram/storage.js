// `wxKeyValueStore`: imcore's KeyValueStore on wx.setStorage & co. The callback forms
// (success / fail) work on every base library; the Promise forms are newer.
'use strict';

var KB = 1024;
var MB = 1024 * KB;

// wx allows 1 MB per key and 10 MB in all, measured on what it stores, which may be the
// JSON of the value (every `"` in a JSON string then costs two bytes). The client counts
// UTF-8 bytes of the raw string, so leave a quarter of headroom per value, and leave the
// app's own keys room in the total. Override with `limits` if you know better.
var DEFAULT_MAX_VALUE_BYTES = MB - 256 * KB;
var DEFAULT_MAX_TOTAL_BYTES = 10 * MB - 3 * MB;

function wxCall(api, args) {
  return new Promise(function (resolve, reject) {
    var call = {};
    for (var k in args) call[k] = args[k];
    call.success = resolve;
    call.fail = function (res) {
      var error = new Error('wx.' + api + ' failed: ' + ((res && res.errMsg) || 'unknown error'));
      error.errMsg = res && res.errMsg;
      reject(error);
    };
    wx[api](call);
  });
}

// prefix: put before every key (to keep several stores apart); default none.
// limits: { maxValueBytes, maxTotalBytes } to override the defaults above.
function wxKeyValueStore(prefix, limits) {
  prefix = prefix || '';
  limits = limits || {};
  return {
    maxValueBytes: limits.maxValueBytes || DEFAULT_MAX_VALUE_BYTES,
    maxTotalBytes: limits.maxTotalBytes || DEFAULT_MAX_TOTAL_BYTES,
    get: function (key) {
      return wxCall('getStorage', { key: prefix + key }).then(
        function (res) { return typeof res.data === 'string' ? res.data : null; },
        function (error) {
          // "getStorage:fail data not found" is a missing key, not a failure.
          if (/not found/i.test(error.errMsg || '')) return null;
          throw error;
        }
      );
    },
    set: function (key, value) {
      return wxCall('setStorage', { key: prefix + key, data: value }).then(function () {});
    },
    remove: function (key) {
      return wxCall('removeStorage', { key: prefix + key }).then(function () {});
    },
    keys: function () {
      return wxCall('getStorageInfo', {}).then(function (res) {
        var out = [];
        (res.keys || []).forEach(function (k) {
          if (k.slice(0, prefix.length) === prefix) out.push(k.slice(prefix.length));
        });
        return out;
      });
    },
  };
}

module.exports = {
  wxKeyValueStore: wxKeyValueStore,
  DEFAULT_MAX_VALUE_BYTES: DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_MAX_TOTAL_BYTES: DEFAULT_MAX_TOTAL_BYTES,
};
