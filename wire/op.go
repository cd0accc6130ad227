package wire

import "fmt"

// Op names an operation: what a request asks and what its reply answers.
// Values are part of the protocol: never renumber, only add.
type Op uint16

// Operations. Each names the keyring.Process method it calls and the
// request and reply types it carries (see NewRequest and NewReply).
const (
	OpAdd          Op = 1  // Add: AddRequest, SerialReply
	OpRead         Op = 2  // Read: KeyRequest, DataReply
	OpDescribe     Op = 3  // Describe: KeyRequest, DescribeReply
	OpSearch       Op = 4  // Search: SearchRequest, SerialReply
	OpLink         Op = 5  // Link: LinkRequest, Empty
	OpUnlink       Op = 6  // Unlink: LinkRequest, Empty
	OpUpdate       Op = 7  // Update: UpdateRequest, Empty
	OpRevoke       Op = 8  // Revoke: KeyRequest, Empty
	OpInvalidate   Op = 9  // Invalidate: KeyRequest, Empty
	OpGetKeyringID Op = 10 // GetKeyringID: GetKeyringIDRequest, SerialReply
	OpJoinSession  Op = 11 // JoinSession: JoinSessionRequest, SerialReply
	OpAdoptSession Op = 12 // AdoptSession: KeyRequest, Empty
	// OpWatch sets or removes a watch for the connection's queue:
	// WatchRequest, Empty. Record frames carry it too.
	OpWatch Op = 13

	maxOp = OpWatch
)

var opNames = [...]string{
	OpAdd:          "add",
	OpRead:         "read",
	OpDescribe:     "describe",
	OpSearch:       "search",
	OpLink:         "link",
	OpUnlink:       "unlink",
	OpUpdate:       "update",
	OpRevoke:       "revoke",
	OpInvalidate:   "invalidate",
	OpGetKeyringID: "get_keyring_id",
	OpJoinSession:  "join_session",
	OpAdoptSession: "adopt_session",
	OpWatch:        "watch",
}

// Known reports whether op is an operation of this protocol version.
func (op Op) Known() bool { return op >= OpAdd && op <= maxOp }

func (op Op) String() string {
	if op.Known() {
		return opNames[op]
	}
	return fmt.Sprintf("op(%d)", uint16(op))
}
