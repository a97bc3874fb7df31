"""English: times as "3:40 PM", not Django's "3:40 p.m.", whose full stop doubles with the one that ends
a sentence ("Last looked for on 12/03/2026 3:40 p.m..")."""

DATETIME_FORMAT = "N j, Y, g:i A"
SHORT_DATETIME_FORMAT = "m/d/Y g:i A"
TIME_FORMAT = "g:i A"
