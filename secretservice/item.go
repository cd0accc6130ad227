//go:build linux

package secretservice

import (
	"errors"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/secrets"
)

// deleteItem is Item.Delete.
func (p *Provider) deleteItem(c *call) ([]any, error) {
	it, err := p.item(c, c.obj)
	if err != nil {
		return nil, err
	}
	if err := p.unlocked(it.Service); err != nil {
		return nil, err
	}
	err = p.st.Delete(c.ctx, it.Service, it.Account)
	if errors.Is(err, secrets.ErrNotFound) {
		return nil, dbusError(errNoSuchObject, "no item "+string(c.path))
	}
	if err != nil {
		return nil, err
	}
	return []any{noPrompt}, nil
}

// getSecret is Item.GetSecret.
func (p *Provider) getSecret(c *call) ([]any, error) {
	sessPath, _ := c.args[0].(dbus.ObjectPath)
	s, err := p.sessions.get(sessPath, c.sender)
	if err != nil {
		return nil, err
	}
	it, err := p.item(c, c.obj)
	if err != nil {
		return nil, err
	}
	if err := p.unlocked(it.Service); err != nil {
		return nil, err
	}
	enc, err := s.encode(it.Secret, it.ContentType, p.random)
	if err != nil {
		return nil, err
	}
	return []any{enc}, nil
}

// setSecret is Item.SetSecret: the secret changes, the label and
// attributes stay.
func (p *Provider) setSecret(c *call) ([]any, error) {
	sec, err := secretArg(c.args[0])
	if err != nil {
		return nil, err
	}
	s, err := p.sessions.get(sec.Session, c.sender)
	if err != nil {
		return nil, err
	}
	it, err := p.item(c, c.obj)
	if err != nil {
		return nil, err
	}
	if err := p.unlocked(it.Service); err != nil {
		return nil, err
	}
	value, err := s.decode(sec)
	if err != nil {
		return nil, dbusError(errInvalidArgs, err.Error())
	}
	it.Secret, it.ContentType = value, sec.ContentType
	return nil, p.st.Put(c.ctx, it)
}
