//go:build linux

package daemon

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// Status is what a daemon says of itself (Client.Status): what it serves
// and for how long, and whom. It is what `keyctl-go daemon status` prints.
type Status struct {
	Socket  string        // the socket the daemon listens on
	Store   string        // the store's file, an absolute path
	Private bool          // a per-user daemon (Options.Private)
	Uptime  time.Duration // since the daemon's server was made
	// Users has a row for each uid with a connection open, by uid. Root
	// is told every uid's; anyone else only their own, which holds at
	// least the connection that asked: who else uses the daemon, and
	// how much, is theirs to know.
	Users []UserStatus
}

// UserStatus is one uid's row of a Status.
type UserStatus struct {
	UID uint32
	// Conns are the connections open, to the daemon's socket and to any
	// other it admits through the same Gate (its KCM socket): those that
	// count against Options.MaxConnsPerUID.
	Conns   int
	Watches int // watches they hold, all of them together
}

// Status asks the daemon about itself (status). A daemon too old to know
// the question answers EOPNOTSUPP.
func (c *Client) Status(ctx context.Context) (Status, error) {
	res, err := opStatus.call(ctx, c, wire.Empty{})
	if err != nil {
		return Status{}, err
	}
	st := Status{Socket: res.Socket, Store: res.Store, Private: res.Private, Uptime: time.Duration(res.Uptime)}
	for _, u := range res.Users {
		st.Users = append(st.Users, UserStatus{UID: u.UID, Conns: int(u.Conns), Watches: int(u.Watches)})
	}
	return st, nil
}

// status answers status (opStatus) for a client of uid: every uid's row for
// root, uid's alone for anyone else. Only the kernel's word on who asks
// (the connection's SO_PEERCRED) decides, as for every call. The
// connections are the gate's count, those that count against
// Options.MaxConnsPerUID: a KCM socket sharing the gate counts too.
func (s *Server) status(uid uint32) wire.StatusReply {
	conns := s.gate.connsByUID(uid == 0, uid)
	store := s.store.Path()
	if abs, err := filepath.Abs(store); err == nil {
		store = abs // as this process, in its working directory, means it
	}
	res := wire.StatusReply{
		Socket:  s.path,
		Store:   store,
		Private: s.gate.Private(),
		Uptime:  int64(time.Since(s.started)),
	}
	for _, u := range slices.Sorted(maps.Keys(conns)) {
		res.Users = append(res.Users, wire.UserStatus{UID: u, Conns: uint32(conns[u]), Watches: uint32(s.store.Watches(u))})
	}
	return res
}
