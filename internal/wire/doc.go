//go:build linux

// Package wire is the encoding of the protocol the keyctl-go daemon speaks
// on its Unix socket, and on the two pipes a connection can move its
// frames to: length-prefixed binary frames carrying one request, one
// reply or a batch of notification records, and the request and reply
// types their bodies hold. Which operations there are, and which types
// each carries, is the daemon's table (package daemon, ops.go): here an
// op is a number in a frame. It does no I/O beyond reading and writing
// frames on the io.Reader and io.Writer it is given, and knows nothing of
// who is asking: identity is the daemon's business (SO_PEERCRED), never a
// field here. It is internal: daemon.Client is the protocol's client.
//
// # Basics
//
// A frame is, in big-endian order:
//
//	u32 length   bytes that follow, at most MaxFrameSize
//	u8  version  Version (1)
//	u8  kind     KindRequest, KindReply or KindRecord
//	u32 id       request id, chosen by the client, echoed by the reply; 0 on records
//	u16 op       the operation (the daemon's table); watch's (13) on records
//	...          the body: the op's fields
//
// Bodies are built from five field kinds: u32, i32 and u64 integers, byte
// strings written as a u32 length and the bytes, and lists of i32 written
// as a u32 count and the values. A UUID is a byte string of exactly 16
// bytes; a list of structs (a status's uids, a history's changes) is a
// u32 count and the structs' fields, each checked against what is left of
// the body before anything is allocated. A reply body starts with an errno (u32, 0
// for success) and an error message (a byte string); the op's results
// follow only on success. A record body is exactly the
// bytes one read of the daemon's notification queue returned: one or more
// whole records in the kernel's layout (see package watchqueue), each with
// the store's revision after it (8 bytes, which its length counts) once
// the connection asked watch_revisions.
//
// # Caveats
//
//   - Every length is checked against what is left of the frame before
//     anything is allocated, so a hostile length costs nothing.
//   - Decoding errors unwrap to an errno: EMSGSIZE for a frame over the
//     limit, EPROTO for an unknown version or kind, EBADMSG for a
//     truncated frame or a body that does not parse or has bytes left
//     over. An unknown op is the daemon's to refuse (EOPNOTSUPP).
//   - Byte strings returned by Decode alias the frame's buffer; copy them
//     to keep them past the buffer's next use.
package wire
