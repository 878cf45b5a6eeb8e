package complaint

import (
	"strings"

	"github.com/heraldhq/herald/fold"
)

// compensationWords are stems that, in a customer's own words, ask for
// money back or amends, in the languages herald speaks, without accents
// (askIn folds them away with package fold, since people type "penzem"
// for "pénzem" on a phone). A stem that is also an everyday word of an outage message is
// left out ("naknada" is a Croatian fee as well as a compensation;
// "credit" a card).
var compensationWords = []string{
	// English
	"refund", "compensat", "money back", "reimburs", "my money", "free month", "discount",
	// Hungarian
	"kompenzaci", "karterites", "karpotl", "penzem vissza", "penzt vissza", "visszaterit", "jovairas",
	// Polish
	"rekompensat", "zwrot pieniedzy", "zwrotu pieniedzy", "zwrot kosztow", "odszkodowan", "zwroccie", "chce zwrot",
	// Croatian
	"povrat novca", "povrat placen", "odstet", "kompenzacij", "refundacij", "obestet",
}

// askIn guesses what a customer asks for from their words when nobody
// said: compensation when they ask for money back or amends, else
// information (what happened, when it works again), the usual ask in an
// outage. An agent corrects it with one click; a wrong guess only orders
// the queue.
func askIn(texts ...string) Ask {
	// Words joined by one space: "pénzem  vissza!" matches "penzem vissza".
	folded := " " + strings.Join(fold.Words(strings.Join(texts, " ")), " ") + " "
	for _, w := range compensationWords {
		if strings.Contains(folded, w) {
			return AskCompensation
		}
	}
	return AskInformation
}
