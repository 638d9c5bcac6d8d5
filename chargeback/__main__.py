from chargeback.cli import app

app()
