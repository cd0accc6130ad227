//go:build linux

package secretservice

import (
	"maps"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/secrets"
)

// deleteCollection is Collection.Delete: the service and its secrets go.
func (p *Provider) deleteCollection(c *call) ([]any, error) {
	name, err := p.collection(c, c.obj)
	if err != nil {
		return nil, err
	}
	if err := p.unlocked(name); err != nil {
		return nil, err
	}
	if err := p.st.DeleteService(c.ctx, name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	delete(p.locked, name)
	delete(p.labels, name)
	for a, target := range p.aliases {
		if target == name && a != "default" {
			delete(p.aliases, a)
		}
	}
	p.mu.Unlock()
	return []any{noPrompt}, nil
}

// searchCollection is Collection.SearchItems.
func (p *Provider) searchCollection(c *call) ([]any, error) {
	attrs, _ := c.args[0].(map[string]string)
	name, err := p.collection(c, c.obj)
	if err != nil {
		return nil, err
	}
	paths, err := p.itemPaths(c, name, attrs)
	if err != nil {
		return nil, err
	}
	return []any{paths}, nil
}

// createItem is Collection.CreateItem. With replace, an item whose
// attributes are exactly these is stored over; otherwise a new item is
// made under a fresh name.
func (p *Provider) createItem(c *call) ([]any, error) {
	props, _ := c.args[0].(map[string]dbus.Variant)
	sec, err := secretArg(c.args[1])
	if err != nil {
		return nil, err
	}
	replace, _ := c.args[2].(bool)
	name, err := p.collection(c, c.obj)
	if err != nil {
		return nil, err
	}
	if err := p.unlocked(name); err != nil {
		return nil, err
	}
	s, err := p.sessions.get(sec.Session, c.sender)
	if err != nil {
		return nil, err
	}
	value, err := s.decode(sec)
	if err != nil {
		return nil, dbusError(errInvalidArgs, err.Error())
	}
	it := secrets.Item{Service: name, Attributes: map[string]string{}, ContentType: sec.ContentType, Secret: value}
	if v, ok := props[propItemLabel]; ok {
		if it.Label, ok = v.Value().(string); !ok {
			return nil, dbusError(errInvalidArgs, propItemLabel+" is a string")
		}
	}
	if v, ok := props[propItemAttrs]; ok {
		if it.Attributes, ok = v.Value().(map[string]string); !ok {
			return nil, dbusError(errInvalidArgs, propItemAttrs+" is a{ss}")
		}
	}
	if replace {
		// The item to replace has these attributes and no others.
		same, err := p.st.Find(c.ctx, name, it.Attributes)
		if err != nil {
			return nil, err
		}
		for _, old := range same {
			if maps.Equal(old.Attributes, it.Attributes) {
				it.Account = old.Account
				break
			}
		}
	}
	if it.Account == "" {
		if it.Account, err = p.newAccount(); err != nil {
			return nil, err
		}
	}
	if err := p.st.Put(c.ctx, it); err != nil {
		return nil, err
	}
	return []any{itemPath(name, it.Account), noPrompt}, nil
}
