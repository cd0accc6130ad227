//go:build linux

package secretservice

import "github.com/godbus/dbus/v5"

// BusName is the well-known name a Secret Service owns on the session bus.
const BusName = "org.freedesktop.secrets"

// Object paths of the Secret Service API 0.2.
const (
	servicePath    dbus.ObjectPath = "/org/freedesktop/secrets"
	collectionBase                 = "/org/freedesktop/secrets/collection/"
	aliasBase                      = "/org/freedesktop/secrets/aliases/"
	sessionBase                    = "/org/freedesktop/secrets/session/"
	// noPrompt is the path that says no prompt is needed, and, where a
	// path is returned, "none".
	noPrompt dbus.ObjectPath = "/"
)

// Interfaces.
const (
	ifaceService     = "org.freedesktop.Secret.Service"
	ifaceCollection  = "org.freedesktop.Secret.Collection"
	ifaceItem        = "org.freedesktop.Secret.Item"
	ifaceSession     = "org.freedesktop.Secret.Session"
	ifaceProperties  = "org.freedesktop.DBus.Properties"
	ifaceIntrospect  = "org.freedesktop.DBus.Introspectable"
	propItemLabel    = ifaceItem + ".Label"
	propItemAttrs    = ifaceItem + ".Attributes"
	propCollectLabel = ifaceCollection + ".Label"
)

// DefaultCollection is the collection the alias "default" names, as
// gnome-keyring's first start makes it.
const DefaultCollection = "login"

// Errors the API defines, and the D-Bus ones clients rely on.
const (
	errIsLocked      = "org.freedesktop.Secret.Error.IsLocked"
	errNoSession     = "org.freedesktop.Secret.Error.NoSession"
	errNoSuchObject  = "org.freedesktop.Secret.Error.NoSuchObject"
	errAccessDenied  = "org.freedesktop.DBus.Error.AccessDenied"
	errInvalidArgs   = "org.freedesktop.DBus.Error.InvalidArgs"
	errNotSupported  = "org.freedesktop.DBus.Error.NotSupported"
	errUnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod"
	errUnknownProp   = "org.freedesktop.DBus.Error.UnknownProperty"
	errPropReadOnly  = "org.freedesktop.DBus.Error.PropertyReadOnly"
	errFailed        = "org.freedesktop.DBus.Error.Failed"
)

// dbusError is a D-Bus error reply with a message.
func dbusError(name, msg string) *dbus.Error {
	return &dbus.Error{Name: name, Body: []any{msg}}
}
