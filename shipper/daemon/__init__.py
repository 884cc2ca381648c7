"""`shipper run`: the host daemon. Followers read, the loop parses and enriches, a courier thread
delivers, the ledger moves checkpoints over what the output acknowledged."""

import signal

# What the daemon's loop handles (`shipper.daemon.loop`): `shipper run` holds them back from its very
# start (`shipper.cli`) until the loop's handlers are in place, so that one sent while it starts (a
# logrotate postrotate `kill -HUP`, a stop) is taken as the loop takes it, not by the default action.
SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
