# The vipd_native addon (native/addon.cc: AF_PACKET sockets in native/packet_socket.cc, sd_notify
# in native/notify.cc), built by the package's install script (`node-gyp rebuild`) into
# build/Release/vipd_native.node.
{
  'targets': [
    {
      'target_name': 'vipd_native',
      'sources': ['native/addon.cc', 'native/packet_socket.cc', 'native/notify.cc'],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      'cflags_cc': ['-Wall', '-Wextra'],
    },
  ],
}
