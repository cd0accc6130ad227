//go:build linux

package wire

import "fmt"

// Op names an operation: what a request asks and what its reply answers.
// Values are part of the protocol: never renumber, only add. A daemon that
// does not know an op answers it EOPNOTSUPP and the connection carries on,
// so adding ops needs no new Version; changing an op's fields would.
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

	OpKeys          Op = 14 // Keys: KeyRequest, SerialsReply
	OpMove          Op = 15 // Move: MoveRequest, Empty
	OpClear         Op = 16 // Clear: KeyRequest, Empty
	OpSetTimeout    Op = 17 // SetTimeout: SetTimeoutRequest, Empty
	OpSetPerm       Op = 18 // SetPerm: SetPermRequest, Empty
	OpChown         Op = 19 // Chown: ChownRequest, Empty
	OpRestrict      Op = 20 // Restrict: RestrictRequest, Empty
	OpRequestKey    Op = 21 // RequestKey: RequestKeyRequest, SerialReply
	OpGetPersistent Op = 22 // GetPersistent: GetPersistentRequest, SerialReply
	OpPinSession    Op = 23 // PinSession: Empty, SerialReply
	OpUnpinSession  Op = 24 // UnpinSession: KeyRequest, Empty
	// OpPipes moves the connection's frames onto two pipes: Empty,
	// Empty. A successful reply carries, as SCM_RIGHTS on the socket,
	// the write end of the pipe for requests and the read end of the
	// pipe for replies and records; from then on every frame goes
	// through them and the socket carries nothing. It must be the
	// connection's first request, alone on the socket until its reply.
	OpPipes Op = 25
	// request_key's callouts (keyring's construct.go and authority.go).
	OpRequestKeyCallout Op = 26 // RequestKeyWithCallout: RequestKeyCalloutRequest, ConstructionReply
	OpCompleteRequest   Op = 27 // CompleteRequest: KeyRequest, SerialReply
	OpAssumeAuthority   Op = 28 // AssumeAuthority: AssumeAuthorityRequest, SerialReply
	OpInstantiate       Op = 29 // Instantiate: InstantiateRequest, Empty
	OpReject            Op = 30 // Reject: RejectRequest, Empty

	// OpWatchQueue sizes and filters the connection's watch queue, as
	// IOC_WATCH_QUEUE_SET_SIZE and _SET_FILTER do a notification pipe:
	// WatchQueueRequest, Empty. It must come before the first OpWatch,
	// which makes the queue (EBUSY after).
	OpWatchQueue Op = 31

	// OpStatus asks the daemon about itself: Empty, StatusReply. It
	// calls no keyring method; its rows are the asker's uid's alone
	// unless the asker is root.
	OpStatus Op = 32

	maxOp = OpStatus
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

	OpKeys:          "keys",
	OpMove:          "move",
	OpClear:         "clear",
	OpSetTimeout:    "set_timeout",
	OpSetPerm:       "set_perm",
	OpChown:         "chown",
	OpRestrict:      "restrict",
	OpRequestKey:    "request_key",
	OpGetPersistent: "get_persistent",
	OpPinSession:    "pin_session",
	OpUnpinSession:  "unpin_session",
	OpPipes:         "pipes",

	OpRequestKeyCallout: "request_key_callout",
	OpCompleteRequest:   "complete_request",
	OpAssumeAuthority:   "assume_authority",
	OpInstantiate:       "instantiate",
	OpReject:            "reject",

	OpWatchQueue: "watch_queue",

	OpStatus: "status",
}

// Known reports whether op is an operation of this protocol version.
func (op Op) Known() bool { return op >= OpAdd && op <= maxOp }

func (op Op) String() string {
	if op.Known() {
		return opNames[op]
	}
	return fmt.Sprintf("op(%d)", uint16(op))
}
