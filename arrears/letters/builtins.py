"""The built-in letter templates every organisation has: a reminder, a final demand, a letter of
demand in the form South African businesses use, and a National Credit Act section 129 notice for
credit agreements. They are read-only; an organisation edits the wording by copying one into a
template of its own. Their ids are fixed (the same in every organisation and every release).

The wording is a sensible starting point, not legal advice: an organisation should have its own
attorney approve what it sends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

_NAMESPACE = uuid.UUID("6f1c1f8e-5a3b-4e0a-9a57-3f3b1e0c2d11")


@dataclass(frozen=True, slots=True)
class Builtin:
    key: str
    name: str
    kind: str
    subject: str
    body: str

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(_NAMESPACE, self.key)


REMINDER = Builtin("reminder", "Payment reminder", "reminder", "Payment reminder: account [AccountCode]", """\
Dear [CustomerName]

Our records show that your account [AccountCode] with [OrganisationName] has an outstanding balance \
of R[TotalBalance], of which R[OverdueAmount] is overdue. The amounts are set out below.

[AgeingTable]

If you have already paid, please accept our thanks and ignore this letter. Otherwise we kindly ask \
you to pay the overdue amount by [ReplyByDate], or to contact us before then to arrange payment.

Yours faithfully
[OrganisationName]""")

FINAL_DEMAND = Builtin("final_demand", "Final demand", "final_demand", "FINAL DEMAND: account [AccountCode]", """\
Dear [CustomerName]

Despite our earlier reminders, your account [AccountCode] remains in arrears. The balance of \
R[TotalBalance] is now [DaysPastDue] days past due, as set out below.

[AgeingTable]

This is our final demand. Unless the full overdue amount of R[OverdueAmount] is paid, or an \
arrangement to pay acceptable to us is made, by [ReplyByDate], we will hand the account over for \
collection without further notice, and the costs of collection may be recovered from you.

Please contact us on [Telephone] if you wish to discuss this account.

Yours faithfully
[OrganisationName]""")

LETTER_OF_DEMAND = Builtin("letter_of_demand", "Letter of demand", "letter_of_demand",
                           "LETTER OF DEMAND: account [AccountCode]", """\
Dear [CustomerName]

We write to you on behalf of [OrganisationName] ("our client") regarding account [AccountCode].

You are indebted to our client in the amount of R[TotalBalance] for goods sold and delivered \
and/or services rendered at your special instance and request, which amount is due, owing and \
payable. Despite demand, you have failed to pay. The amount outstanding is made up as follows:

[AgeingTable]

We hereby demand payment of the sum of R[TotalBalance] on or before [ReplyByDate].

Should you fail to pay the amount in full, or to make an arrangement to pay acceptable to our \
client, by that date, our client will institute legal proceedings against you without further \
notice for recovery of the amount owed, together with interest thereon at the prescribed rate and \
the costs of such proceedings, which may result in a judgment against you.

This letter is sent without prejudice to any of our client's rights, all of which are reserved.

Yours faithfully
[OrganisationName]""")

SECTION_129 = Builtin("section_129", "Section 129 notice (National Credit Act)", "section_129",
                      "NOTICE IN TERMS OF SECTION 129(1)(a) OF THE NATIONAL CREDIT ACT 34 OF 2005", """\
Dear [CustomerName]

CREDIT AGREEMENT: ACCOUNT [AccountCode]

You are in default of your obligations under the credit agreement referred to above. The amount \
outstanding is R[TotalBalance], and your account is [DaysPastDue] days in arrears:

[AgeingTable]

In terms of section 129(1)(a) of the National Credit Act 34 of 2005, we hereby draw the default \
to your attention in writing. You may refer the credit agreement to a debt counsellor, an \
alternative dispute resolution agent, the consumer court or the ombud with jurisdiction, with \
the intent that the parties resolve any dispute under the agreement or develop and agree on a \
plan to bring the payments under the agreement up to date.

Please pay the arrears, or contact us to agree on such a plan, by [ReplyByDate]. If you do not \
respond to this notice, or if you reject our proposals, within ten (10) business days after its \
delivery to you, [OrganisationName] may approach the court to enforce the agreement, without \
further notice, in terms of section 130 of the Act.

Yours faithfully
[OrganisationName]""")

BUILTINS: tuple[Builtin, ...] = (REMINDER, FINAL_DEMAND, LETTER_OF_DEMAND, SECTION_129)
BY_ID: dict[uuid.UUID, Builtin] = {b.id: b for b in BUILTINS}
