"""A CAS 3.0 client nobody here wrote (python-cas, PyPI) validates a ticket
the gateway issued, at the gateway's /cas/p3/serviceValidate.

Arguments: the gateway's CAS prefix (ending in /cas/), the service URL and
the ticket. Prints the login URL python-cas builds and the validation
result as JSON: the user (null when refused) and the attributes.
"""

import json
import sys

from cas import CASClient


def main():
    server, service, ticket = sys.argv[1:4]
    client = CASClient(version=3, service_url=service, server_url=server)
    user, attributes, _pgtiou = client.verify_ticket(ticket)
    print(json.dumps({
        "login_url": client.get_login_url(),
        "user": user,
        "attributes": attributes or {},
    }))


if __name__ == "__main__":
    main()
