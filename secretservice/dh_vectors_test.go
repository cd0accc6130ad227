//go:build linux

package secretservice

// Known answers for dh-ietf1024-sha256-aes128-cbc-pkcs7, computed with
// python3-secretstorage 3.3.3's own key derivation (dhcrypto.Session) and
// python3-cryptography's AES-CBC: the server's private key is the 128
// bytes below, the client's public key is what secretstorage sends.
const (
	vecServerPrivate = "7b7daafb37d21221f75d0451fa35dfaacfca509150cecad0e40217b593c5b47566e80c1dd1f74556b3c46a357b699c860976372361a99332934e720a586b7786fb7daafb37d21221f75d0451fa35dfaacfca509150cecad0e40217b593c5b47566e80c1dd1f74556b3c46a357b699c860976372361a99332934e720a586b7786"
	vecClientPublic  = "18fe0877df1a84e0d06d436dfa4f399a796f8e7d09d36f176866352a49abc632ad1b541e1c473720cfac2395623dc3b284665f9c4ec49ac5006158ea606d09990f9ccbd0f6819a8a0ec625939c6e629e83b8390dc2cb4faecd03734ff26021f91a10629fe25eb7dfa259bebe9babee953b2191acb88b4266f3f617507e3e538a"
	vecServerPublic  = "7df55937a695a820c00197bd169e7f96b8b9c41c969b487780d02c692b85e527eaf89a842369320825d7477d6212913c620c681cffe7f27f87d3ca71fa36d3a08fdd7ac04af0fb1293320d572cfdbaab7db50f3773b909ca2acb8653891f0374250cf9a86d3a88d9c33ee2dd99f7eb5c051592789c3a309500933e4db664f572"
	vecKey           = "a1d5cc4c1d7c40c7d11c9393f502311d"
	// "hunter2" under vecKey with the IV 00 01 02 ... 0f.
	vecPlaintext  = "hunter2"
	vecIV         = "000102030405060708090a0b0c0d0e0f"
	vecCiphertext = "e429bdf882cd603e75276d48a79f9b81"
)
