package main

import (
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"peerchat/cmd/peerchat/internal/history"
)

// jsonRecord is a message as `peerchat history --json` writes it, one
// object a line. encoding/json leaves C1 controls, bidi controls and
// invisible characters raw, and a script that prints a field would pass
// them to a terminal; here every character sanitize escapes is written as
// \uXXXX instead (a surrogate pair above U+FFFF), which any JSON reader
// decodes back to the text that was received. The format lives here, with
// the transcript format (historyLine), because both are the command's
// words for a record and both follow sanitize's rule; the store keeps
// records, not their looks.
type jsonRecord struct {
	Direction   history.Direction `json:"direction"`
	ID          uint64            `json:"id"`
	Peer        jsonText          `json:"peer"`
	Fingerprint jsonText          `json:"fingerprint"`
	From        jsonText          `json:"from"`
	Time        time.Time         `json:"time"`     // the sender's clock
	Received    time.Time         `json:"received"` // ours: what --since and the order go by
	Text        jsonText          `json:"text"`
	Delivered   bool              `json:"delivered"`
}

func newJSONRecord(r history.Record) jsonRecord {
	return jsonRecord{r.Direction, r.ID, jsonText(r.Peer), jsonText(r.Fingerprint), jsonText(r.From), r.Time, r.Received, jsonText(r.Text), r.Delivered}
}

// jsonText is a string written as a JSON string with what sanitize
// escapes written as \u escapes.
type jsonText string

func (s jsonText) MarshalJSON() ([]byte, error) { return appendJSONString(nil, string(s)), nil }

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	prev := rune(-1)
	for i := 0; i < len(s); {
		n, r, esc := scanRune(s, i, prev)
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...) // as encoding/json does
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case esc && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b = appendJSONEscape(appendJSONEscape(b, r1), r2)
		case esc:
			b = appendJSONEscape(b, r)
		default:
			b = append(b, s[i:i+n]...)
		}
		if esc {
			prev = -1
		} else {
			prev = r
		}
		i += n
	}
	return append(b, '"')
}

func appendJSONEscape(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	b = append(b, `\u`...)
	for shift := 12; shift >= 0; shift -= 4 {
		b = append(b, hex[r>>shift&0xf])
	}
	return b
}
