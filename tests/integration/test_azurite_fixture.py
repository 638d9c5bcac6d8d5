from azure.storage.blob import BlobServiceClient


def test_azurite_round_trips_a_blob(azurite):
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("probe")
    container.upload_blob("hello.txt", b"hello")
    assert container.download_blob("hello.txt").readall() == b"hello"


def test_azurite_restart_keeps_data_on_the_same_port(azurite):
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container("probe").upload_blob("a", b"1")
    port = azurite.port
    azurite.stop()
    azurite.start()
    assert azurite.port == port
    assert service.get_container_client("probe").download_blob("a").readall() == b"1"
