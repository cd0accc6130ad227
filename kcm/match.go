//go:build linux

package kcm

import (
	"bytes"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// Which fields of a matching credential RETRIEVE and REMOVE_CRED compare:
// Heimdal's KRB5_TC_* values (KCM_TC_* in MIT's kcm.h), which MIT's client
// maps its own flags to.
const (
	tcDontMatchRealm   = 1 << 31
	tcMatchKeytype     = 1 << 30
	tcMatchSrvNameOnly = 1 << 29
	tcMatchFlagsExact  = 1 << 28
	tcMatchFlags       = 1 << 27
	tcMatchTimesExact  = 1 << 26
	tcMatchTimes       = 1 << 25
	tcMatchAuthdata    = 1 << 24
	tcMatch2ndTkt      = 1 << 23
	tcMatchIsSKey      = 1 << 22
)

// Which fields a matching credential carries (SC_* in MIT's ccmarshal.c).
const (
	scClient       = 0x01
	scServer       = 0x02
	scSessionKey   = 0x04
	scTicket       = 0x08
	scSecondTicket = 0x10
	scAuthdata     = 0x20
	scAddresses    = 0x40
)

// matchCred is what RETRIEVE and REMOVE_CRED look for (k5_marshal_mcred):
// the fields MIT sent, the others absent.
type matchCred struct {
	client, server      *ccache.Principal
	encType             ccache.EncType
	authTime, startTime ccache.Timestamp
	endTime, renewTill  ccache.Timestamp
	isSKey              uint8
	flags               ccache.TicketFlags
	authData            []ccache.AuthData
	secondTicket        []byte
}

// mcred reads a matching credential: a u32 saying which optional fields
// follow, then the fields in the order k5_marshal_mcred writes them.
func (a *args) mcred() (matchCred, error) {
	var m matchCred
	header, err := a.u32("matching credential header")
	if err != nil {
		return m, err
	}
	if header&scClient != 0 {
		p, err := a.principal()
		if err != nil {
			return m, err
		}
		m.client = &p
	}
	if header&scServer != 0 {
		p, err := a.principal()
		if err != nil {
			return m, err
		}
		m.server = &p
	}
	if header&scSessionKey != 0 {
		if len(a.b) < 2 {
			return m, malformed("matching credential enctype cut short")
		}
		m.encType = ccache.EncType(int16(uint16(a.b[0])<<8 | uint16(a.b[1])))
		a.b = a.b[2:]
		if _, err := a.data("matching credential key"); err != nil {
			return m, err
		}
	}
	for _, t := range []*ccache.Timestamp{&m.authTime, &m.startTime, &m.endTime, &m.renewTill} {
		v, err := a.u32("matching credential times")
		if err != nil {
			return m, err
		}
		*t = ccache.Timestamp(v)
	}
	if len(a.b) < 1 {
		return m, malformed("matching credential is_skey cut short")
	}
	m.isSKey, a.b = a.b[0], a.b[1:]
	f, err := a.u32("matching credential flags")
	if err != nil {
		return m, err
	}
	m.flags = ccache.TicketFlags(f)
	if header&scAddresses != 0 {
		n, err := a.count("matching credential address count", 6)
		if err != nil {
			return m, err
		}
		for range n {
			if len(a.b) < 2 {
				return m, malformed("matching credential address cut short")
			}
			a.b = a.b[2:]
			if _, err := a.data("matching credential address"); err != nil {
				return m, err
			}
		}
	}
	if header&scAuthdata != 0 {
		n, err := a.count("matching credential authdata count", 6)
		if err != nil {
			return m, err
		}
		for range n {
			if len(a.b) < 2 {
				return m, malformed("matching credential authdata cut short")
			}
			typ := int16(uint16(a.b[0])<<8 | uint16(a.b[1]))
			a.b = a.b[2:]
			d, err := a.data("matching credential authdata")
			if err != nil {
				return m, err
			}
			m.authData = append(m.authData, ccache.AuthData{Type: typ, Data: d})
		}
	}
	if header&scTicket != 0 {
		if _, err := a.data("matching credential ticket"); err != nil {
			return m, err
		}
	}
	if header&scSecondTicket != 0 {
		if m.secondTicket, err = a.data("matching credential second ticket"); err != nil {
			return m, err
		}
	}
	return m, nil
}

// matches is krb5int_cc_creds_match_request: whether c is what m asks
// for, comparing the fields flags name. Principals compare by realm and
// components, as krb5_principal_compare does, not by name type.
func (m *matchCred) matches(flags uint32, c *ccache.Credential) bool {
	if m.client != nil && !samePrincipal(*m.client, c.Client, flags&tcDontMatchRealm != 0) {
		return false
	}
	if m.server != nil && !samePrincipal(*m.server, c.Server, flags&(tcMatchSrvNameOnly|tcDontMatchRealm) != 0) {
		return false
	}
	// A user-to-user ticket is matched only when asked for: it would not
	// work as a plain service ticket.
	wantSKey := uint8(0)
	if flags&tcMatchIsSKey != 0 {
		wantSKey = m.isSKey
	}
	if (c.IsSKey != 0) != (wantSKey != 0) {
		return false
	}
	if flags&tcMatchFlagsExact != 0 && m.flags != c.Flags {
		return false
	}
	if flags&tcMatchFlags != 0 && c.Flags&m.flags != m.flags {
		return false
	}
	if flags&tcMatchTimesExact != 0 && (m.authTime != c.AuthTime || m.startTime != c.StartTime || m.endTime != c.EndTime || m.renewTill != c.RenewTill) {
		return false
	}
	if flags&tcMatchTimes != 0 {
		// Only expiry counts: the credential must last at least as long.
		if m.renewTill != 0 && m.renewTill > c.RenewTill {
			return false
		}
		if m.endTime != 0 && m.endTime > c.EndTime {
			return false
		}
	}
	if flags&tcMatchAuthdata != 0 && !sameAuthData(m.authData, c.AuthData) {
		return false
	}
	if flags&tcMatch2ndTkt != 0 && !bytes.Equal(m.secondTicket, c.SecondTicket) {
		return false
	}
	if flags&tcMatchKeytype != 0 && m.encType != c.Key.EncType {
		return false
	}
	return true
}

func samePrincipal(p, q ccache.Principal, anyRealm bool) bool {
	if !anyRealm && p.Realm != q.Realm {
		return false
	}
	if len(p.Components) != len(q.Components) {
		return false
	}
	for i := range p.Components {
		if p.Components[i] != q.Components[i] {
			return false
		}
	}
	return true
}

func sameAuthData(a, b []ccache.AuthData) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}
