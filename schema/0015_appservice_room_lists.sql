-- Rooms an application service publishes in its own room list for one of its networks
-- (PUT /directory/list/appservice/{networkId}/{roomId}); /publicRooms shows them with
-- third_party_instance_id "<service id>|<network id>" or include_all_networks.
CREATE TABLE appservice_room_lists (
  appservice_id  text NOT NULL,
  network_id     text NOT NULL,
  room_id        text NOT NULL,
  PRIMARY KEY (appservice_id, network_id, room_id)
);
