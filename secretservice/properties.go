//go:build linux

package secretservice

import (
	"maps"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/secrets"
)

// unixSeconds is the API's time: a uint64 of Unix seconds, 0 unknown.
func unixSeconds(it secrets.Item, created bool) uint64 {
	t := it.Modified
	if created {
		t = it.Created
	}
	if t.IsZero() {
		return 0
	}
	return uint64(t.Unix())
}

// properties returns an object's properties under iface: all of them, or
// the one named (nil if it has no such property). An object that does not
// exist is UnknownMethod, the error gnome-keyring gives and secretstorage
// reads as "item not found".
func (p *Provider) properties(c *call, iface, only string) (map[string]dbus.Variant, error) {
	props := map[string]dbus.Variant{}
	want := func(name string) bool { return only == "" || only == name }
	gone := func(err error) error {
		if e, ok := err.(*dbus.Error); ok && e.Name == errNoSuchObject {
			return dbusError(errUnknownMethod, "no object at "+string(c.path))
		}
		return err
	}
	switch c.obj.kind {
	case objService:
		if iface != "" && iface != ifaceService {
			return props, nil
		}
		if want("Collections") {
			paths, err := p.collectionPaths(c)
			if err != nil {
				return nil, err
			}
			props["Collections"] = dbus.MakeVariant(paths)
		}
	case objCollection:
		if iface != "" && iface != ifaceCollection {
			return props, nil
		}
		name, err := p.collection(c, c.obj)
		if err != nil {
			return nil, gone(err)
		}
		if want("Label") {
			props["Label"] = dbus.MakeVariant(p.collectionLabel(name))
		}
		if want("Locked") {
			props["Locked"] = dbus.MakeVariant(p.isLocked(name))
		}
		if want("Items") || want("Created") || want("Modified") {
			items, err := p.st.List(c.ctx, name)
			if err != nil {
				return nil, err
			}
			paths := make([]dbus.ObjectPath, 0, len(items))
			var created, modified uint64
			for _, it := range items {
				paths = append(paths, itemPath(name, it.Account))
				if t := unixSeconds(it, true); t != 0 && (created == 0 || t < created) {
					created = t
				}
				modified = max(modified, unixSeconds(it, false))
			}
			if want("Items") {
				props["Items"] = dbus.MakeVariant(paths)
			}
			// A keyring keeps no times of its own: the collection was
			// made no later than its oldest item, and changed when its
			// newest did.
			if want("Created") {
				props["Created"] = dbus.MakeVariant(created)
			}
			if want("Modified") {
				props["Modified"] = dbus.MakeVariant(modified)
			}
		}
	case objItem:
		if iface != "" && iface != ifaceItem {
			return props, nil
		}
		it, err := p.item(c, c.obj)
		if err != nil {
			return nil, gone(err)
		}
		itemProps(it, p.isLocked(it.Service), props, want)
	}
	return props, nil
}

// itemProps fills an item's properties.
func itemProps(it secrets.Item, locked bool, props map[string]dbus.Variant, want func(string) bool) {
	if want("Locked") {
		props["Locked"] = dbus.MakeVariant(locked)
	}
	if want("Label") {
		props["Label"] = dbus.MakeVariant(it.Label)
	}
	if want("Attributes") {
		attrs := it.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		props["Attributes"] = dbus.MakeVariant(attrs)
	}
	if want("Created") {
		props["Created"] = dbus.MakeVariant(unixSeconds(it, true))
	}
	if want("Modified") {
		props["Modified"] = dbus.MakeVariant(unixSeconds(it, false))
	}
}

// getProperty is Properties.Get.
func (p *Provider) getProperty(c *call) ([]any, error) {
	iface, _ := c.args[0].(string)
	name, _ := c.args[1].(string)
	props, err := p.properties(c, iface, name)
	if err != nil {
		return nil, err
	}
	v, ok := props[name]
	if !ok {
		return nil, dbusError(errUnknownProp, "no property "+iface+"."+name)
	}
	return []any{v}, nil
}

// getAllProperties is Properties.GetAll.
func (p *Provider) getAllProperties(c *call) ([]any, error) {
	iface, _ := c.args[0].(string)
	props, err := p.properties(c, iface, "")
	if err != nil {
		return nil, err
	}
	return []any{props}, nil
}

// setProperty is Properties.Set: an item's Label and Attributes, a
// collection's Label. Item changes go to the store, whose notification
// brings the signals; a collection's label lives in the provider.
func (p *Provider) setProperty(c *call) ([]any, error) {
	iface, _ := c.args[0].(string)
	name, _ := c.args[1].(string)
	value, _ := c.args[2].(dbus.Variant)
	switch {
	case c.obj.kind == objItem && (iface == ifaceItem || iface == "") && (name == "Label" || name == "Attributes"):
		it, err := p.item(c, c.obj)
		if err != nil {
			return nil, err
		}
		if err := p.unlocked(it.Service); err != nil {
			return nil, err
		}
		if name == "Label" {
			l, ok := value.Value().(string)
			if !ok {
				return nil, dbusError(errInvalidArgs, "Label is a string")
			}
			it.Label = l
		} else {
			a, ok := value.Value().(map[string]string)
			if !ok {
				return nil, dbusError(errInvalidArgs, "Attributes is a{ss}")
			}
			it.Attributes = maps.Clone(a)
		}
		return nil, p.st.Put(c.ctx, it)
	case c.obj.kind == objCollection && (iface == ifaceCollection || iface == "") && name == "Label":
		coll, err := p.collection(c, c.obj)
		if err != nil {
			return nil, err
		}
		l, ok := value.Value().(string)
		if !ok {
			return nil, dbusError(errInvalidArgs, "Label is a string")
		}
		p.mu.Lock()
		p.labels[coll] = l
		p.mu.Unlock()
		p.emitProperties(collectionPath(coll), ifaceCollection, map[string]dbus.Variant{"Label": dbus.MakeVariant(l)})
		p.emit(servicePath, ifaceService+".CollectionChanged", collectionPath(coll))
		return nil, nil
	}
	props, err := p.properties(c, iface, name)
	if err != nil {
		return nil, err
	}
	if _, ok := props[name]; ok {
		return nil, dbusError(errPropReadOnly, iface+"."+name+" is read-only")
	}
	return nil, dbusError(errUnknownProp, "no property "+iface+"."+name)
}
