"""Socket.IO transport: the `/chat` namespace and the publisher that turns domain events
into emits. The only layer that talks to sockets."""

NAMESPACE = "/chat"
