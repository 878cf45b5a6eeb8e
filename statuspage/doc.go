// Package statuspage is herald's public site: the status page and incident
// pages in each of a page's languages, the Statuspage v2 JSON API, the
// RSS and Atom history feeds, and the payloads for live updates.
//
// Everything is rendered in advance. A Site renders a page when an event
// says it changed (and every minute, so uptime bars and upcoming
// maintenances follow the clock) into an immutable snapshot that it swaps
// in atomically; Lookup answers from memory and never touches the store.
// Rendering all of a page's responses at once is what lets a declaration
// show up in summary.json within milliseconds while the store sees one
// burst of reads per change instead of one per visitor.
package statuspage
