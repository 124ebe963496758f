package peer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// A safety code is what two people compare by voice to know that nobody
// stands between them: one code per pair of certificates, the same on both
// sides whoever dialed, and different for any other pair. It is derived
// from both certificates' full SHA-256 fingerprints, sorted so that the
// order of the two does not matter, under a label so that it can never be
// mistaken for a fingerprint of anything else.
//
// It is printed as SafetyCodeGroups groups of five decimal digits, as
// Signal does: digits read aloud more reliably than hex, and each group of
// five comes from five bytes of the digest reduced modulo 100000. Four
// groups are about 66 bits: finding a second certificate with the same code
// as a given pair would take about 2^66 certificates signed by the CA.

// SafetyCodeGroups is how many five-digit groups a safety code has.
const SafetyCodeGroups = 4

const safetyLabel = "peerchat safety code v1\x00"

// SafetyCode returns the code for the pair of certificates with these
// SHA-256 fingerprints (in Fingerprint's form), for example
// "39104 55812 07731 64420". It is symmetric: SafetyCode(a, b) ==
// SafetyCode(b, a).
func SafetyCode(fingerprintA, fingerprintB string) string {
	a, b := fingerprintBytes(fingerprintA), fingerprintBytes(fingerprintB)
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	h := sha256.New()
	h.Write([]byte(safetyLabel))
	h.Write(a)
	h.Write(b)
	sum := h.Sum(nil)
	groups := make([]string, SafetyCodeGroups)
	for i := range groups {
		var v [8]byte
		copy(v[3:], sum[i*5:i*5+5])
		groups[i] = fmt.Sprintf("%05d", binary.BigEndian.Uint64(v[:])%100000)
	}
	return strings.Join(groups, " ")
}

// fingerprintBytes turns "AB:CD:…" back into bytes; anything else is used
// as it is, so that two different inputs still give different codes.
func fingerprintBytes(fp string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(fp, ":", ""))
	if err != nil {
		return []byte(fp)
	}
	return b
}
