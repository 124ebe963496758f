package peer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A received file is saved under a name chosen by the peer, in a directory
// that is often the user's home, and from there it travels on: to a file
// manager, to a Windows share, to a mail. SafeFileName keeps the rules the
// major browsers keep for downloads, so that a name cannot hide a file,
// disguise its type or name a device wherever it lands:
//
//   - only the base name counts: "../../etc/passwd" is "passwd";
//   - leading dots and spaces, and trailing dots and spaces, are stripped:
//     ".bash_profile" is "bash_profile", "notes.txt. ." is "notes.txt";
//   - invisible characters are replaced by "_": bidi controls (U+202E
//     turns "invoice\u202Efdp.exe" into "invoice_fdp.exe" rather than
//     something shown as "invoiceexe.pdf"), zero-width and other format
//     characters (Cf: U+200B, U+200D, U+2060, U+FEFF, U+00AD, tags),
//     private-use characters (Co), line and paragraph separators (Zl, Zp)
//     and the Hangul fillers; ordinary spaces stay;
//   - the characters Windows forbids in a name, < > " | ? *, are replaced
//     by "_" too, or the file could not be copied to a Windows share or a
//     USB stick;
//   - a Windows device name gets a "_" in front on every system, with or
//     without an extension and in any case: CON, PRN, AUX, NUL, COM0–COM9,
//     LPT0–LPT9, COM¹–COM³, LPT¹–LPT³, CONIN$, CONOUT$, CLOCK$ ("nul.txt"
//     is "_nul.txt"), and so do Explorer's desktop.ini and thumbs.db;
//   - a name over 200 bytes is cut short from the end of its stem, keeping
//     its extension;
//   - names with control characters, a colon (an NTFS stream), invalid
//     UTF-8, or nothing left are refused.

// SafeFileName reduces a name offered by a peer to the base name it is
// saved under, one that can only name an ordinary, visible file inside
// the download directory, or refuses it.
func SafeFileName(offered string) (string, error) {
	name := offered
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("file name %q is not valid UTF-8", offered)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", fmt.Errorf("file name %q holds control characters", offered)
		}
		if r == ':' {
			return "", fmt.Errorf("file name %q holds a colon, which names a hidden stream on Windows", offered)
		}
	}
	name = strings.Map(func(r rune) rune {
		if invisibleInName(r) || strings.ContainsRune(`<>"|?*`, r) {
			return '_'
		}
		return r
	}, name)
	name = shorten(strings.TrimLeft(strings.TrimRight(name, ". "), ". "), maxSavedName)
	if name == "" {
		return "", fmt.Errorf("file name %q is empty once reduced to a base name", offered)
	}
	if windowsDevice(name) {
		name = "_" + name
	}
	return name, nil
}

// maxSavedName leaves room, within the 255 bytes most file systems allow,
// for a " (999)" that tells apart files of one name, and for the partial
// file's own name.
const maxSavedName = 200

// shorten cuts name to at most max bytes, as browsers do with a long
// download: from the end of the stem, on a character boundary, keeping a
// short extension, so that "report … .pdf" stays a PDF.
func shorten(name string, max int) string {
	if len(name) <= max {
		return name
	}
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
		stem, ext = name[:i], name[i:]
	}
	cut := max - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return strings.TrimRight(stem[:cut], ". ") + ext
}

// invisibleInName reports the characters a file name must not hold as
// they are: they draw nothing, or reorder what is drawn around them.
func invisibleInName(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0: // Hangul fillers: letters that draw nothing
		return true
	}
	return unicode.In(r, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp)
}

// windowsDevice reports whether Windows takes name for a device: its
// stem (before the first dot, trailing spaces ignored) is one of the
// reserved names, in any case; or for a file of Explorer's own.
func windowsDevice(name string) bool {
	stem := name
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$":
		return true
	}
	switch strings.ToLower(name) {
	case "desktop.ini", "thumbs.db": // Explorer's own: desktop.ini sets how a folder is shown
		return true
	}
	if len(stem) < 4 || (stem[:3] != "COM" && stem[:3] != "LPT") {
		return false
	}
	switch stem[3:] {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}
