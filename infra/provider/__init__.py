"""Provider rules as data: documented constraints of Azure and AWS that the program relies on.

Pulumi's mock engine accepts any input; Azure and AWS do not. Each module here holds one kind of
rule with the document it comes from, and is read three times: by the environment loader
(`slotstack validate`), by the Pulumi program (which derives its inputs from it) and by the policy
pack (`pulumi preview`).
"""
