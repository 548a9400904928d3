"""Payment event processor (AWS Lambda, SQS -> DynamoDB ledger).

Kept free of imports on purpose: the operator's renderer imports ``payments.build``
and must not pay for (or need) botocore, and the Lambda cold start should only load
what the first invocation actually uses.
"""

__all__: list[str] = []
