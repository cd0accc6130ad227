//go:build linux

package wire

// Message is a request, or the results of a successful reply: a struct
// whose fields are encoded in order, with nothing in between.
type Message interface {
	// EncodeFields appends the message's fields.
	EncodeFields(e *Encoder)
	// DecodeFields reads them back; errors stick in d.
	DecodeFields(d *Decoder)
}

// Encode appends m's fields to dst.
func Encode(dst []byte, m Message) []byte {
	e := Encoder{B: dst}
	m.EncodeFields(&e)
	return e.B
}

// Decode decodes body into m. A body too short for m's fields, or longer,
// is EBADMSG.
func Decode(body []byte, m Message) error {
	return new(Decoder).Decode(body, m)
}

// Decode is the package's Decode with d, which it resets, without
// allocating: see Decoder.DecodeReply.
func (d *Decoder) Decode(body []byte, m Message) error {
	d.Reset(body)
	defer d.Reset(nil)
	m.DecodeFields(d)
	return d.Finish()
}

// AddRequest asks for add_key.
type AddRequest struct {
	Type        string
	Description string
	Payload     []byte
	Ring        int32
}

func (m *AddRequest) EncodeFields(e *Encoder) {
	e.String(m.Type)
	e.String(m.Description)
	e.Bytes(m.Payload)
	e.I32(m.Ring)
}

func (m *AddRequest) DecodeFields(d *Decoder) {
	m.Type = d.String()
	m.Description = d.String()
	m.Payload = d.Bytes()
	m.Ring = d.I32()
}

// KeyRequest names one key: read, describe, revoke, invalidate,
// adopt_session, keys, clear, unpin_session and complete_request.
type KeyRequest struct {
	ID int32
}

func (m *KeyRequest) EncodeFields(e *Encoder) { e.I32(m.ID) }
func (m *KeyRequest) DecodeFields(d *Decoder) { m.ID = d.I32() }

// SearchRequest asks for KEYCTL_SEARCH.
type SearchRequest struct {
	Ring        int32
	Type        string
	Description string
	Dest        int32
}

func (m *SearchRequest) EncodeFields(e *Encoder) {
	e.I32(m.Ring)
	e.String(m.Type)
	e.String(m.Description)
	e.I32(m.Dest)
}

func (m *SearchRequest) DecodeFields(d *Decoder) {
	m.Ring = d.I32()
	m.Type = d.String()
	m.Description = d.String()
	m.Dest = d.I32()
}

// LinkRequest names a key and a keyring: link and unlink.
type LinkRequest struct {
	Key  int32
	Ring int32
}

func (m *LinkRequest) EncodeFields(e *Encoder) { e.I32(m.Key); e.I32(m.Ring) }
func (m *LinkRequest) DecodeFields(d *Decoder) { m.Key = d.I32(); m.Ring = d.I32() }

// UpdateRequest asks for KEYCTL_UPDATE.
type UpdateRequest struct {
	ID      int32
	Payload []byte
}

func (m *UpdateRequest) EncodeFields(e *Encoder) { e.I32(m.ID); e.Bytes(m.Payload) }
func (m *UpdateRequest) DecodeFields(d *Decoder) { m.ID = d.I32(); m.Payload = d.Bytes() }

// GetKeyringIDRequest asks for KEYCTL_GET_KEYRING_ID.
type GetKeyringIDRequest struct {
	ID     int32
	Create bool
}

func (m *GetKeyringIDRequest) EncodeFields(e *Encoder) { e.I32(m.ID); e.Bool(m.Create) }
func (m *GetKeyringIDRequest) DecodeFields(d *Decoder) { m.ID = d.I32(); m.Create = d.Bool() }

// JoinSessionRequest asks for KEYCTL_JOIN_SESSION_KEYRING; "" is a new
// anonymous session.
type JoinSessionRequest struct {
	Name string
}

func (m *JoinSessionRequest) EncodeFields(e *Encoder) { e.String(m.Name) }
func (m *JoinSessionRequest) DecodeFields(d *Decoder) { m.Name = d.String() }

// WatchRequest asks for KEYCTL_WATCH_KEY on the connection's queue; Tag
// -1 removes the watch.
type WatchRequest struct {
	ID  int32
	Tag int32
}

func (m *WatchRequest) EncodeFields(e *Encoder) { e.I32(m.ID); e.I32(m.Tag) }
func (m *WatchRequest) DecodeFields(d *Decoder) { m.ID = d.I32(); m.Tag = d.I32() }

// WatchQueueRequest sizes the connection's watch queue (Size notes, 0
// for the daemon's default) and filters it (Filter in the kernel's
// struct watch_notification_filter layout, watchqueue.ParseFilter's;
// empty for none).
type WatchQueueRequest struct {
	Size   int32
	Filter []byte
}

func (m *WatchQueueRequest) EncodeFields(e *Encoder) { e.I32(m.Size); e.Bytes(m.Filter) }
func (m *WatchQueueRequest) DecodeFields(d *Decoder) { m.Size = d.I32(); m.Filter = d.Bytes() }

// MoveRequest asks for KEYCTL_MOVE. Flags are the kernel's, a u32 as
// its syscall takes them.
type MoveRequest struct {
	Key   int32
	From  int32
	To    int32
	Flags uint32
}

func (m *MoveRequest) EncodeFields(e *Encoder) {
	e.I32(m.Key)
	e.I32(m.From)
	e.I32(m.To)
	e.U32(m.Flags)
}

func (m *MoveRequest) DecodeFields(d *Decoder) {
	m.Key = d.I32()
	m.From = d.I32()
	m.To = d.I32()
	m.Flags = d.U32()
}

// SetTimeoutRequest asks for KEYCTL_SET_TIMEOUT. The timeout goes in
// nanoseconds, as the caller gave it, not in the kernel's seconds: the
// store does the rounding, so a negative or sub-second timeout meets the
// same checks over the daemon as embedded.
type SetTimeoutRequest struct {
	ID      int32
	Timeout int64 // nanoseconds, a time.Duration
}

func (m *SetTimeoutRequest) EncodeFields(e *Encoder) { e.I32(m.ID); e.U64(uint64(m.Timeout)) }
func (m *SetTimeoutRequest) DecodeFields(d *Decoder) { m.ID = d.I32(); m.Timeout = int64(d.U64()) }

// SetPermRequest asks for KEYCTL_SETPERM. Perm travels whole, bits
// outside the kernel's mask included, so that the store can refuse them.
type SetPermRequest struct {
	ID   int32
	Perm uint32
}

func (m *SetPermRequest) EncodeFields(e *Encoder) { e.I32(m.ID); e.U32(m.Perm) }
func (m *SetPermRequest) DecodeFields(d *Decoder) { m.ID = d.I32(); m.Perm = d.U32() }

// ChownRequest asks for KEYCTL_CHOWN; 0xffffffff leaves the owner or group
// as it is.
type ChownRequest struct {
	ID       int32
	UID, GID uint32
}

func (m *ChownRequest) EncodeFields(e *Encoder) { e.I32(m.ID); e.U32(m.UID); e.U32(m.GID) }
func (m *ChownRequest) DecodeFields(d *Decoder) { m.ID = d.I32(); m.UID = d.U32(); m.GID = d.U32() }

// RestrictRequest asks for KEYCTL_RESTRICT_KEYRING; Type and Restriction
// both "" forbid any further link.
type RestrictRequest struct {
	Ring        int32
	Type        string
	Restriction string
}

func (m *RestrictRequest) EncodeFields(e *Encoder) {
	e.I32(m.Ring)
	e.String(m.Type)
	e.String(m.Restriction)
}

func (m *RestrictRequest) DecodeFields(d *Decoder) {
	m.Ring = d.I32()
	m.Type = d.String()
	m.Restriction = d.String()
}

// RequestKeyRequest asks for request_key; Dest 0 links the key nowhere.
type RequestKeyRequest struct {
	Type        string
	Description string
	Dest        int32
}

func (m *RequestKeyRequest) EncodeFields(e *Encoder) {
	e.String(m.Type)
	e.String(m.Description)
	e.I32(m.Dest)
}

func (m *RequestKeyRequest) DecodeFields(d *Decoder) {
	m.Type = d.String()
	m.Description = d.String()
	m.Dest = d.I32()
}

// RequestKeyCalloutRequest asks for request_key with callout information;
// Dest 0 is the caller's default keyring.
type RequestKeyCalloutRequest struct {
	Type        string
	Description string
	Callout     []byte
	Dest        int32
}

func (m *RequestKeyCalloutRequest) EncodeFields(e *Encoder) {
	e.String(m.Type)
	e.String(m.Description)
	e.Bytes(m.Callout)
	e.I32(m.Dest)
}

func (m *RequestKeyCalloutRequest) DecodeFields(d *Decoder) {
	m.Type = d.String()
	m.Description = d.String()
	m.Callout = d.Bytes()
	m.Dest = d.I32()
}

// ConstructionReply answers request_key with callout information: the key
// found (Serial), or, with Constructing, the key the caller must build and
// what its helper needs (keyring.Construction). The token is a secret:
// it goes only to the connection that asked.
type ConstructionReply struct {
	Serial                   int32
	Constructing             bool
	Key, Authority           int32
	Token                    string
	Op, Type, Description    string
	Callout                  []byte
	UID, GID                 uint32
	Thread, Process, Session int32
}

func (m *ConstructionReply) EncodeFields(e *Encoder) {
	e.I32(m.Serial)
	e.Bool(m.Constructing)
	e.I32(m.Key)
	e.I32(m.Authority)
	e.String(m.Token)
	e.String(m.Op)
	e.String(m.Type)
	e.String(m.Description)
	e.Bytes(m.Callout)
	e.U32(m.UID)
	e.U32(m.GID)
	e.I32(m.Thread)
	e.I32(m.Process)
	e.I32(m.Session)
}

func (m *ConstructionReply) DecodeFields(d *Decoder) {
	m.Serial = d.I32()
	m.Constructing = d.Bool()
	m.Key = d.I32()
	m.Authority = d.I32()
	m.Token = d.String()
	m.Op = d.String()
	m.Type = d.String()
	m.Description = d.String()
	m.Callout = d.Bytes()
	m.UID = d.U32()
	m.GID = d.U32()
	m.Thread = d.I32()
	m.Process = d.I32()
	m.Session = d.I32()
}

// AssumeAuthorityRequest asks for KEYCTL_ASSUME_AUTHORITY over Key, with
// the token that proves the helper was given it.
type AssumeAuthorityRequest struct {
	Key   int32
	Token string
}

func (m *AssumeAuthorityRequest) EncodeFields(e *Encoder) { e.I32(m.Key); e.String(m.Token) }
func (m *AssumeAuthorityRequest) DecodeFields(d *Decoder) { m.Key = d.I32(); m.Token = d.String() }

// InstantiateRequest asks for KEYCTL_INSTANTIATE.
type InstantiateRequest struct {
	Key     int32
	Payload []byte
	Ring    int32
}

func (m *InstantiateRequest) EncodeFields(e *Encoder) {
	e.I32(m.Key)
	e.Bytes(m.Payload)
	e.I32(m.Ring)
}
func (m *InstantiateRequest) DecodeFields(d *Decoder) {
	m.Key = d.I32()
	m.Payload = d.Bytes()
	m.Ring = d.I32()
}

// RejectRequest asks for KEYCTL_REJECT (KEYCTL_NEGATE is Errno ENOKEY).
// The timeout goes in nanoseconds, as SetTimeoutRequest's.
type RejectRequest struct {
	Key     int32
	Timeout int64 // nanoseconds, a time.Duration
	Errno   uint32
	Ring    int32
}

func (m *RejectRequest) EncodeFields(e *Encoder) {
	e.I32(m.Key)
	e.U64(uint64(m.Timeout))
	e.U32(m.Errno)
	e.I32(m.Ring)
}

func (m *RejectRequest) DecodeFields(d *Decoder) {
	m.Key = d.I32()
	m.Timeout = int64(d.U64())
	m.Errno = d.U32()
	m.Ring = d.I32()
}

// GetPersistentRequest asks for KEYCTL_GET_PERSISTENT; UID 0xffffffff is
// the caller's own.
type GetPersistentRequest struct {
	UID  uint32
	Dest int32
}

func (m *GetPersistentRequest) EncodeFields(e *Encoder) { e.U32(m.UID); e.I32(m.Dest) }
func (m *GetPersistentRequest) DecodeFields(d *Decoder) { m.UID = d.U32(); m.Dest = d.I32() }

// SerialReply carries a key's serial.
type SerialReply struct {
	Serial int32
}

func (m *SerialReply) EncodeFields(e *Encoder) { e.I32(m.Serial) }
func (m *SerialReply) DecodeFields(d *Decoder) { m.Serial = d.I32() }

// DataReply carries a payload.
type DataReply struct {
	Data []byte
}

func (m *DataReply) EncodeFields(e *Encoder) { e.Bytes(m.Data) }
func (m *DataReply) DecodeFields(d *Decoder) { m.Data = d.Bytes() }

// SerialsReply carries the serials of the keys a keyring holds, in the
// store's order.
type SerialsReply struct {
	Serials []int32
}

func (m *SerialsReply) EncodeFields(e *Encoder) { e.I32s(m.Serials) }
func (m *SerialsReply) DecodeFields(d *Decoder) { m.Serials = d.I32s() }

// DescribeReply carries what KEYCTL_DESCRIBE tells.
type DescribeReply struct {
	Type        string
	UID, GID    uint32
	Perm        uint32
	Description string
}

func (m *DescribeReply) EncodeFields(e *Encoder) {
	e.String(m.Type)
	e.U32(m.UID)
	e.U32(m.GID)
	e.U32(m.Perm)
	e.String(m.Description)
}

func (m *DescribeReply) DecodeFields(d *Decoder) {
	m.Type = d.String()
	m.UID = d.U32()
	m.GID = d.U32()
	m.Perm = d.U32()
	m.Description = d.String()
}

// StatusReply carries what a daemon says of itself (status): where it
// serves, what, for how long, and the connections and watches it holds,
// by uid.
type StatusReply struct {
	Socket  string
	Store   string
	Private bool  // a per-user daemon (serving its own uid and root only)
	Uptime  int64 // nanoseconds since the daemon started serving
	Users   []UserStatus
}

// UserStatus is one uid's row of a StatusReply.
type UserStatus struct {
	UID     uint32
	Conns   uint32 // connections open, the asker's own included
	Watches uint32 // watches those connections hold
}

// userStatusSize is an encoded UserStatus's size (bytes): three u32s.
const userStatusSize = 12

func (m *StatusReply) EncodeFields(e *Encoder) {
	e.String(m.Socket)
	e.String(m.Store)
	e.Bool(m.Private)
	e.U64(uint64(m.Uptime))
	e.U32(uint32(len(m.Users)))
	for _, u := range m.Users {
		e.U32(u.UID)
		e.U32(u.Conns)
		e.U32(u.Watches)
	}
}

func (m *StatusReply) DecodeFields(d *Decoder) {
	m.Socket = d.String()
	m.Store = d.String()
	m.Private = d.Bool()
	m.Uptime = int64(d.U64())
	n := d.count(userStatusSize, "uid rows")
	if n == 0 {
		m.Users = nil
		return
	}
	m.Users = make([]UserStatus, n)
	for i := range m.Users {
		m.Users[i] = UserStatus{UID: d.U32(), Conns: d.U32(), Watches: d.U32()}
	}
}

// StoreIDReply carries the store's UUID, and its history's (store_id).
type StoreIDReply struct {
	UUID    [UUIDSize]byte
	History [UUIDSize]byte
}

func (m *StoreIDReply) EncodeFields(e *Encoder) { e.putUUID(m.UUID); e.putUUID(m.History) }
func (m *StoreIDReply) DecodeFields(d *Decoder) { m.UUID = d.uuid(); m.History = d.uuid() }

// ChangesRequest asks for the changes committed after revision After of
// the store and history Store and History name, less the first Skip of
// them: a reply that could not hold them all ends where the next
// request, with After and Skip moved on, begins (see ChangesReply).
type ChangesRequest struct {
	Store   [UUIDSize]byte
	History [UUIDSize]byte
	After   uint64
	Skip    uint32
}

func (m *ChangesRequest) EncodeFields(e *Encoder) {
	e.putUUID(m.Store)
	e.putUUID(m.History)
	e.U64(m.After)
	e.U32(m.Skip)
}

func (m *ChangesRequest) DecodeFields(d *Decoder) {
	m.Store = d.uuid()
	m.History = d.uuid()
	m.After = d.U64()
	m.Skip = d.U32()
}

// ChangesReply carries changes in commit order, the revision they reach
// (Current), and More if the rest did not fit in one frame.
type ChangesReply struct {
	Current uint64
	More    bool
	Changes []Change
}

// Change is one change of a ChangesReply (keyring.Change's fields).
// Subtype means nothing on a Destroyed change; the names are empty where
// the caller may not view the key.
type Change struct {
	Revision       uint64
	Key            int32
	Subtype        uint32
	Aux            int32
	Destroyed      bool
	KeyType        string
	KeyDescription string
	AuxType        string
	AuxDescription string
}

// changeMinSize is an encoded Change's smallest size (bytes): its
// integers, and the four names' lengths.
const changeMinSize = 8 + 4 + 4 + 4 + 4 + 4*4

// Size is c's encoded size (bytes).
func (c *Change) Size() int {
	return changeMinSize + len(c.KeyType) + len(c.KeyDescription) + len(c.AuxType) + len(c.AuxDescription)
}

func (m *ChangesReply) EncodeFields(e *Encoder) {
	e.U64(m.Current)
	e.Bool(m.More)
	e.U32(uint32(len(m.Changes)))
	for i := range m.Changes {
		c := &m.Changes[i]
		e.U64(c.Revision)
		e.I32(c.Key)
		e.U32(c.Subtype)
		e.I32(c.Aux)
		e.Bool(c.Destroyed)
		e.String(c.KeyType)
		e.String(c.KeyDescription)
		e.String(c.AuxType)
		e.String(c.AuxDescription)
	}
}

func (m *ChangesReply) DecodeFields(d *Decoder) {
	m.Current = d.U64()
	m.More = d.Bool()
	n := d.count(changeMinSize, "changes")
	if n == 0 {
		m.Changes = nil
		return
	}
	m.Changes = make([]Change, n)
	for i := range m.Changes {
		m.Changes[i] = Change{
			Revision: d.U64(), Key: d.I32(), Subtype: d.U32(), Aux: d.I32(), Destroyed: d.Bool(),
			KeyType: d.String(), KeyDescription: d.String(), AuxType: d.String(), AuxDescription: d.String(),
		}
	}
}

// Empty is the results of an operation that returns nothing, and the
// request of one that takes nothing (pin_session, pipes, status).
type Empty struct{}

func (*Empty) EncodeFields(*Encoder) {}
func (*Empty) DecodeFields(*Decoder) {}
