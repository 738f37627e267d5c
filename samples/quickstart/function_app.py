"""The app Core Tools' Python v2 quickstart generates (`func new --template "HTTP trigger"`), in our own words."""

import logging

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="http_trigger")
def http_trigger(req: func.HttpRequest) -> func.HttpResponse:
    logging.info("The HTTP trigger got a request.")

    name = req.params.get("name")
    if not name:
        try:
            body = req.get_json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            name = body.get("name")

    if name:
        return func.HttpResponse(f"Hello, {name}. The HTTP triggered function ran successfully.")
    return func.HttpResponse(
        "The HTTP triggered function ran successfully. Pass a name in the query string or in the request body "
        "for a personal greeting.",
        status_code=200,
    )
