# The vipd_native addon (native/addon.cc lists what each source does), built by the package's
# install script (`node-gyp rebuild`) into build/Release/vipd_native.node. N-API only (through
# node-addon-api), so one build serves every Node version from 20 on.
{
  'targets': [
    {
      'target_name': 'vipd_native',
      'sources': [
        'native/addon.cc',
        'native/packet_socket.cc',
        'native/notify.cc',
        'native/poller.cc',
        'native/watched_socket.cc',
        'native/raw_socket.cc',
        'native/netlink_socket.cc',
        'native/fault.cc',
        'native/timer.cc',
      ],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      'cflags_cc': ['-Wall', '-Wextra'],
    },
  ],
}
