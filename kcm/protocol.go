//go:build linux

package kcm

import (
	"encoding/binary"
	"fmt"
)

// The protocol version MIT's client speaks (KCM_PROTOCOL_VERSION_MAJOR and
// _MINOR in MIT's include/kcm.h). A request with another is refused.
const (
	versionMajor = 2
	versionMinor = 0
)

// DefaultSocket is where MIT and Heimdal clients look for a KCM server when
// krb5.conf names none (DEFAULT_KCM_SOCKET_PATH; /var/run is /run).
const DefaultSocket = "/run/.heim_org.h5l.kcm-socket"

// Sizes on the wire.
const (
	// DefaultMaxRequestSize bounds a request, in bytes after its length
	// prefix: MIT's MAX_REPLY_SIZE and sssd-kcm's KCM_PACKET_MAX_SIZE,
	// 10 MiB. A REPLACE carries a whole cache, so this is also the largest
	// cache a client can install in one request.
	DefaultMaxRequestSize = 10 << 20
	// maxReplySize is the largest reply MIT's client reads (MAX_REPLY_SIZE,
	// bytes of payload); it fails a longer one with KRB5_KCM_REPLY_TOO_BIG.
	maxReplySize = 10 << 20
	// uuidLen is a UUID's size on the wire (KCM_UUID_LEN), in bytes.
	uuidLen = 16
	// requestHeaderLen is major, minor and opcode: 4 bytes.
	requestHeaderLen = 4
)

// Op is a KCM operation code (kcm_opcode in MIT's kcm.h). The codes are
// Heimdal's, counted from NOOP = 0; MIT's extensions start at 13001.
type Op uint16

// The operations. Those MIT 1.20's client sends are served (see the
// table in ops.go); the others are answered KRB5_CC_NOSUPP.
const (
	OpNoop Op = iota
	OpGetName
	OpResolve
	OpGenNew
	OpInitialize
	OpDestroy
	OpStore
	OpRetrieve
	OpGetPrincipal
	OpGetCredUUIDList
	OpGetCredByUUID
	OpRemoveCred
	OpSetFlags
	OpChown
	OpChmod
	OpGetInitialTicket
	OpGetTicket
	OpMoveCache
	OpGetCacheUUIDList
	OpGetCacheByUUID
	OpGetDefaultCache
	OpSetDefaultCache
	OpGetKDCOffset
	OpSetKDCOffset
)

// MIT's extensions (KCM_OP_MIT_EXTENSION_BASE is 13000).
const (
	OpGetCredList Op = 13001 // (name) -> (count, count*{len, cred})
	OpReplace     Op = 13002 // (name, offset, princ, count, count*{len, cred}) -> ()
)

// String is the operation's name as kcm.h spells it, without KCM_OP_.
func (o Op) String() string {
	if row := lookupOp(o); row != nil {
		return row.name
	}
	return fmt.Sprintf("OP_%d", uint16(o))
}

// Code is a reply code: 0, or a krb5 error code (com_err table "krb5",
// base -1765328384), as MIT's client returns it to the tool. A Code is an
// error, so an operation can return one.
type Code int32

// krb5ErrBase is ERROR_TABLE_BASE_krb5.
const krb5ErrBase = -1765328384

// The codes a KCM server answers with (krb5_err.et: the base plus the
// error's position in the table).
const (
	CodeOK          Code = 0
	CodeBadName     Code = krb5ErrBase + 139 // KRB5_CC_BADNAME "Credential cache name malformed"
	CodeNotFound    Code = krb5ErrBase + 141 // KRB5_CC_NOTFOUND "Matching credential not found"
	CodeEnd         Code = krb5ErrBase + 142 // KRB5_CC_END "End of credential cache reached"
	CodeIO          Code = krb5ErrBase + 193 // KRB5_CC_IO "Credentials cache I/O operation failed"
	CodePerm        Code = krb5ErrBase + 194 // KRB5_FCC_PERM "Credentials cache permissions incorrect"
	CodeNoFile      Code = krb5ErrBase + 195 // KRB5_FCC_NOFILE "No credentials cache found"
	CodeInternal    Code = krb5ErrBase + 196 // KRB5_FCC_INTERNAL "Internal credentials cache error"
	CodeWrite       Code = krb5ErrBase + 197 // KRB5_CC_WRITE "Error writing to credentials cache"
	CodeNoMem       Code = krb5ErrBase + 198 // KRB5_CC_NOMEM
	CodeFormat      Code = krb5ErrBase + 199 // KRB5_CC_FORMAT "Bad format in credentials cache"
	CodeUnsupported Code = krb5ErrBase + 247 // KRB5_CC_NOSUPP "Ccache function not supported: not implemented"
)

var codeNames = map[Code]string{
	CodeOK:          "success",
	CodeBadName:     "KRB5_CC_BADNAME",
	CodeNotFound:    "KRB5_CC_NOTFOUND",
	CodeEnd:         "KRB5_CC_END",
	CodeIO:          "KRB5_CC_IO",
	CodePerm:        "KRB5_FCC_PERM",
	CodeNoFile:      "KRB5_FCC_NOFILE",
	CodeInternal:    "KRB5_FCC_INTERNAL",
	CodeWrite:       "KRB5_CC_WRITE",
	CodeNoMem:       "KRB5_CC_NOMEM",
	CodeFormat:      "KRB5_CC_FORMAT",
	CodeUnsupported: "KRB5_CC_NOSUPP",
}

// Error names the code as krb5's headers do.
func (c Code) Error() string {
	if n, ok := codeNames[c]; ok {
		return "kcm: " + n
	}
	return fmt.Sprintf("kcm: code %d", int32(c))
}

// appendReplyHeader starts a reply frame: the length of what follows the
// status word (filled in by finishReply), the transport status, always 0
// (the operation ran), then the operation's code. MIT's client reads the
// length and the status first and the rest only if the status is 0; sssd
// and this server put every error in the code, so the connection stays in
// step.
func appendReplyHeader(b []byte, code Code) []byte {
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

// replyHeaderLen is the length and status words before the code.
const replyHeaderLen = 8

// finishReply fills in a reply frame's length.
func finishReply(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)-replyHeaderLen))
	return b
}

// failureFrame is the reply to a request that could not be read as one:
// no payload, the code in the status word, as sssd-kcm sends it.
func failureFrame(code Code) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}
