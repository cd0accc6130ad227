//go:build linux

package secretservice

// methodsOf is the API: the methods of each kind of object, one row each.
// It is filled by init, since Introspect reads it.
var methodsOf map[objectKind][]*method

func init() {
	methodsOf = map[objectKind][]*method{
		objService: {
			{ifaceService, "OpenSession", "sv", "vo", (*Provider).openSession},
			{ifaceService, "CreateCollection", "a{sv}s", "oo", (*Provider).createCollection},
			{ifaceService, "SearchItems", "a{ss}", "aoao", (*Provider).searchAll},
			{ifaceService, "Unlock", "ao", "aoo", (*Provider).unlock},
			{ifaceService, "Lock", "ao", "aoo", (*Provider).lock},
			{ifaceService, "GetSecrets", "aoo", "a{o(oayays)}", (*Provider).getSecrets},
			{ifaceService, "ReadAlias", "s", "o", (*Provider).readAlias},
			{ifaceService, "SetAlias", "so", "", (*Provider).setAlias},
			propGet, propGetAll, propSet, introspect,
		},
		objCollection: {
			{ifaceCollection, "Delete", "", "o", (*Provider).deleteCollection},
			{ifaceCollection, "SearchItems", "a{ss}", "ao", (*Provider).searchCollection},
			{ifaceCollection, "CreateItem", "a{sv}(oayays)b", "oo", (*Provider).createItem},
			propGet, propGetAll, propSet, introspect,
		},
		objItem: {
			{ifaceItem, "Delete", "", "o", (*Provider).deleteItem},
			{ifaceItem, "GetSecret", "o", "(oayays)", (*Provider).getSecret},
			{ifaceItem, "SetSecret", "(oayays)", "", (*Provider).setSecret},
			propGet, propGetAll, propSet, introspect,
		},
		objSession: {
			{ifaceSession, "Close", "", "", (*Provider).closeSession},
			introspect,
		},
	}
}

var (
	propGet    = &method{ifaceProperties, "Get", "ss", "v", (*Provider).getProperty}
	propGetAll = &method{ifaceProperties, "GetAll", "s", "a{sv}", (*Provider).getAllProperties}
	propSet    = &method{ifaceProperties, "Set", "ssv", "", (*Provider).setProperty}
	introspect = &method{ifaceIntrospect, "Introspect", "", "s", (*Provider).introspect}
)
