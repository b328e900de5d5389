@0xfb4ded7f739d5651;

# Wire contract shared with the Rust exporter-proxy apps: each message on a
# TCP or unix socket is one InboundMetrics in standard stream framing
# (optionally packed). Keep field numbers and types unchanged.
struct InboundMetrics {
  appName @0 :Text;
  data @1 :Text;
}
