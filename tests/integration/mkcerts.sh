#!/bin/sh
# mkcerts.sh DIR: make the test PKI in DIR with openssl(1), for the scripted
# server and for Postfix. Nothing here is trusted outside a test.
#
#   ca.pem, ca.key                 the test CA (trust anchor for clients)
#   mx.test.pem, mx.test.key       signed by the CA, DNS:mx.test and
#                                  DNS:*.mx.test (the good certificate)
#   wrong.test.pem, wrong.test.key signed by the CA, DNS:wrong.test only
#                                  (name mismatch for a client expecting mx.test)
#   self.pem, self.key             self-signed, DNS:mx.test (untrusted issuer)
#   expired.pem, expired.key       signed by the CA, DNS:mx.test, valid only
#                                  2020-01-01 .. 2020-01-02 (expired)
#   other-ca.pem, other-ca.key     a second CA nothing is signed by (a client
#                                  trusting only it rejects every cert above)
#
# Server certs are leaf certs with serverAuth; every *.pem that a server
# loads holds only the leaf (the CA is the client's trust anchor). Keys are
# EC P-256 without a passphrase, mode 0600. Re-running overwrites DIR's files.
set -eu

dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# ---------------------------------------------------------------- CAs
cat > ca.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = mxsend test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
for ca in ca other-ca; do
	newkey $ca.key
	openssl req -new -x509 -config ca.cnf -extensions v3_ca -key $ca.key \
		-days 3650 -subj "/CN=mxsend test $ca" -out $ca.pem
done

# ---------------------------------------------------------------- leaves
# leaf NAME SANS: a CSR for CN=NAME with the given subjectAltName list
leafext() {
	cat > "$1.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
}

signed() { # NAME SANS
	newkey "$1.key"
	leafext "$1" "$2"
	openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 825 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
signed mx.test "DNS:mx.test, DNS:*.mx.test"
signed wrong.test "DNS:wrong.test"

# self-signed, for the name a client expects
newkey self.key
leafext self "DNS:mx.test"
sed -i 's/keyid, issuer/keyid:always/' self.ext
openssl req -new -x509 -key self.key -subj "/CN=mx.test" -days 825 \
	-extensions v3 -config /dev/stdin -out self.pem <<EOF
[req]
distinguished_name = dn
[dn]
[v3]
$(cat self.ext)
EOF

# expired: 'openssl x509 -req' (3.0) cannot set a past notBefore, 'openssl ca'
# can, with -startdate/-enddate.
newkey expired.key
leafext expired "DNS:mx.test"
openssl req -new -key expired.key -subj "/CN=mx.test" -out expired.csr
rm -rf ca.db && mkdir ca.db && : > ca.db/index.txt
cat > ca.db/ca.cnf <<EOF
[ca]
default_ca = test
[test]
database = ca.db/index.txt
new_certs_dir = ca.db
serial = ca.db/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
EOF
openssl rand -hex 8 > ca.db/serial
openssl ca -batch -notext -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
	-startdate 20200101000000Z -enddate 20200102000000Z \
	-extfile expired.ext -in expired.csr -out expired.pem 2>/dev/null

rm -rf ca.db ./*.csr ./*.ext ./*.srl ca.cnf
chmod 0644 ./*.pem
