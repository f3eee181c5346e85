# The vipd_native addon (native/packet_socket.cc), built by the package's install script
# (`node-gyp rebuild`) into build/Release/vipd_native.node.
{
  'targets': [
    {
      'target_name': 'vipd_native',
      'sources': ['native/packet_socket.cc'],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      'cflags_cc': ['-Wall', '-Wextra'],
    },
  ],
}
