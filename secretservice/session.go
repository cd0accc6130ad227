//go:build linux

package secretservice

import (
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/godbus/dbus/v5"
)

// session is what OpenSession made for one client connection: how
// secrets travel between it and the provider. Only that connection may
// use it; it ends with Close or when the connection leaves the bus.
type session struct {
	path  dbus.ObjectPath
	owner string // the client's unique bus name
	key   []byte // AES key; nil for plain
}

// secretStruct is the API's Secret, (oayays): the session, the
// algorithm's parameters (the IV), the value (encrypted or plain) and its
// content type.
type secretStruct struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// encode makes a secret to send in this session.
func (s *session) encode(secret []byte, contentType string, random io.Reader) (secretStruct, error) {
	if contentType == "" {
		contentType = "text/plain"
	}
	out := secretStruct{Session: s.path, Parameters: []byte{}, Value: secret, ContentType: contentType}
	if s.key != nil {
		iv, ct, err := encryptCBC(s.key, secret, random)
		if err != nil {
			return secretStruct{}, err
		}
		out.Parameters, out.Value = iv, ct
	}
	return out, nil
}

// decode reads a secret a client sent in this session.
func (s *session) decode(in secretStruct) ([]byte, error) {
	if s.key == nil {
		return in.Value, nil
	}
	return decryptCBC(s.key, in.Parameters, in.Value)
}

// sessions are the open sessions, by path.
type sessions struct {
	mu   sync.Mutex
	next uint64
	all  map[dbus.ObjectPath]*session
}

func (ss *sessions) open(owner string, key []byte) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.all == nil {
		ss.all = make(map[dbus.ObjectPath]*session)
	}
	ss.next++
	s := &session{path: dbus.ObjectPath(sessionBase + "s" + strconv.FormatUint(ss.next, 10)), owner: owner, key: key}
	ss.all[s.path] = s
	return s
}

// get returns the session at path if caller opened it: another
// connection's session is no session of the caller's, so the secrets it
// would carry could be read with a key the caller never agreed.
func (ss *sessions) get(path dbus.ObjectPath, caller string) (*session, error) {
	ss.mu.Lock()
	s := ss.all[path]
	ss.mu.Unlock()
	if s == nil || s.owner != caller {
		return nil, dbusError(errNoSession, fmt.Sprintf("no session %s of this connection", path))
	}
	return s, nil
}

func (ss *sessions) close(path dbus.ObjectPath, caller string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.all[path]
	if s == nil || s.owner != caller {
		return false
	}
	delete(ss.all, path)
	return true
}

// closeOwner ends every session of a connection that left the bus.
func (ss *sessions) closeOwner(owner string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for p, s := range ss.all {
		if s.owner == owner {
			delete(ss.all, p)
		}
	}
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.all)
}
